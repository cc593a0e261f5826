"""`trial example screening`: an eligible synthetic child, as `trial enroll` takes it; bad options all named."""

from __future__ import annotations

import json
from datetime import date

from typer.testing import CliRunner

from cli.main import app
from domain.eligibility import ScreeningData, age_in_completed_years, assess_eligibility
from domain.protocol import CURRENT_PROTOCOL

runner = CliRunner()


def test_the_example_child_is_eligible_on_the_day_asked() -> None:
    result = runner.invoke(app, ["example", "screening", "--screened-on", "2026-10-16", "--age-years", "5"])
    assert result.exit_code == 0, result.output
    data = ScreeningData.model_validate(json.loads(result.stdout))
    assert data.screening_date == date(2026, 10, 16)
    assert age_in_completed_years(data.date_of_birth, data.screening_date) == 5
    assert assess_eligibility(data, CURRENT_PROTOCOL.eligibility).eligible


def test_every_bad_option_is_named() -> None:
    result = runner.invoke(
        app, ["example", "screening", "--screened-on", "2026-13-01", "--age-years", "x", "--weight-kg", "0"]
    )
    assert result.exit_code == 2
    for option in ("--screened-on", "--age-years", "--weight-kg"):
        assert option in result.stderr
