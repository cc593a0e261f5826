"""`trial --help` describes the trial-level commands and what supervisors and the DSMB do with them: the trial's
status, the DSMB's signed decision, the slot calendar and the custody steps, with the protocol's own numbers."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from cli.main import app
from cli.trial_help import TRIAL_PANEL
from domain.protocol import CURRENT_PROTOCOL

runner = CliRunner()
WIDE = {"COLUMNS": "400"}  # no sentence folded across lines


def help_text(*arguments: str) -> str:
    answer = runner.invoke(app, [*arguments, "--help"], env=WIDE)
    assert answer.exit_code == 0, answer.output
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", answer.output))  # the panels' borders and folds


def test_the_top_help_says_what_supervisors_and_the_dsmb_do_at_the_trial_level() -> None:
    text = help_text()
    rule, custody = CURRENT_PROTOCOL.stopping_rule, CURRENT_PROTOCOL.custody
    for said in (
        "`trial status --trial` (GET /trial) shows enrollment (open, paused by the safety stopping rule, closed)",
        f"A patient is evaluable {rule.dlt_observation_window_days} days after infusion or at their DLT",
        "the investigator, the supervisors and the DSMB are told",
        "records its signed decision with `trial dsmb-decision` (POST /trial/dsmb-decisions): resume, resume under an "
        "amendment, or stop; nothing else reopens enrollment",
        "`trial slots` (GET /slots) shows the manufacturing slot calendar",
        "when none is free the supervisors are alerted at once and the patient's status says why",
        "`trial record STUDY_ID record-custody-hand-off`",
        "checked against the bag's chain-of-identity label (a wrong label is refused)",
        f"warmer than {custody.max_shipping_temperature_c:g} °C",
        "until the cell lab's `decide-temperature-excursion`",
        f"more than {custody.max_minutes_thaw_to_infusion} minutes after the thaw needs the investigator's "
        "`approve-late-infusion-after-thaw`",
    ):
        assert said in text, said


def test_the_trial_level_commands_are_listed_in_their_panel_with_their_use() -> None:
    text = help_text()
    panel = text[text.index(TRIAL_PANEL) :]
    assert "slots The manufacturing slot calendar" in panel
    assert "dsmb-decision The DSMB's decision on a trial the safety stopping rule paused" in panel
    assert "with --trial, the trial itself" in text  # `trial status`, among the supervisors' commands


def test_each_trial_level_command_explains_itself() -> None:
    assert "Only a DSMB member may record it" in help_text("dsmb-decision")
    assert "when a consented patient's status says no slot is booked" in help_text("slots")
    status = help_text("status")
    assert "--trial" in status and "the evaluable and pending patients" in status
    assert "why none is booked" in status
