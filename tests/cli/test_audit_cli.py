"""`trial audit STUDY_ID [--format jsonl|csv] [--output FILE]`: the API's trail for the signed-in reader, on
stdout or into an owner-only file; an unknown patient exits 1 in plain words, bad input exits 2 naming each problem."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from typer.testing import CliRunner

from cli.common import USAGE_ERROR_EXIT_CODE
from cli.main import app
from cli.staff import REFUSED_EXIT_CODE
from domain.journey import commands as cmd
from domain.roles import Role
from facade import NotPermitted
from tests.cli.trial_cli import TrialCli, trial_cli_over_api, worker_logs_kept_out_of_the_cli_output
from tests.domain.journey_driver import INVESTIGATOR, NURSE
from tests.facade.audit_check import chain_problems_in_export, csv_rows, jsonl_rows
from tests.facade.journeys import enrollment, signed_record
from tests.servers import Stack
from tests.waiting import poll


@pytest.fixture(scope="module")
def quiet_worker() -> Iterator[None]:
    with worker_logs_kept_out_of_the_cli_output():
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cli(stack: Stack, quiet_worker: None, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TrialCli]:
    async with trial_cli_over_api(stack, tmp_path_factory.mktemp("audit-cli")) as anonymous:
        yield await anonymous.signed_in("monitor.audit", Role.SUPERVISOR)


async def confirmed_with_one_refusal(stack: Stack, study_id: str) -> int:
    """Enrolled and confirmed, after a nurse tried to confirm; returns how many events the record holds."""
    await stack.trial.enroll(enrollment(study_id))
    with pytest.raises(NotPermitted):
        await stack.trial.record(study_id, cmd.ConfirmEligibility(actor=NURSE))
    result = await signed_record(stack.trial, study_id, cmd.ConfirmEligibility(actor=INVESTIGATOR))
    last = result.events[-1].sequence

    async def recorded() -> int | None:
        return last if stack.store.last_sequence(study_id) == last else None

    return await poll(recorded, "the confirmation recorded")


async def test_the_trail_on_stdout_as_json_lines(cli: TrialCli, stack: Stack) -> None:
    events = await confirmed_with_one_refusal(stack, "AC-1001")
    result = await cli("audit", "AC-1001")
    assert result.exit_code == 0, result.output
    rows = jsonl_rows(result.stdout)
    assert [row["sequence"] for row in rows if row["entry"] == "event"] == list(range(1, events + 1))
    assert chain_problems_in_export(rows) == []
    assert [(row["entry"], row["actor_role"], row["refused_command"]) for row in rows[events:]] == [
        ("refused_attempt", "nurse", "confirm_eligibility")
    ]


async def test_the_trail_as_csv_into_an_owner_only_file(cli: TrialCli, stack: Stack, tmp_path: Path) -> None:
    events = await confirmed_with_one_refusal(stack, "AC-1002")
    target = tmp_path / "audit-AC-1002.csv"
    result = await cli("audit", "AC-1002", "--format", "csv", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"Wrote the audit trail of AC-1002 to {target}: {events} events, 1 refused attempt (csv)." in result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    rows = csv_rows(target.read_text(encoding="utf-8"))
    assert chain_problems_in_export(rows) == []
    as_jsonl = jsonl_rows((await cli("audit", "AC-1002", "--format", "jsonl")).stdout)
    assert rows == as_jsonl


async def test_an_unknown_patient_exits_1_in_plain_words(cli: TrialCli) -> None:
    result = await cli("audit", "AC-9999")
    assert result.exit_code == REFUSED_EXIT_CODE
    assert "Error: no patient with study id AC-9999 is enrolled in the trial" in result.stderr
    assert result.stdout == ""


async def test_every_input_problem_is_named_at_once_and_nothing_is_read(cli: TrialCli, tmp_path: Path) -> None:
    result = await cli(
        "audit", "patient one", "--format", "xml", "--output", str(tmp_path / "missing" / "a.csv"), "--colour"
    )
    assert result.exit_code == USAGE_ERROR_EXIT_CODE
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: 4 problems with the input; nothing was calculated."
    assert any(line.startswith("  --colour: no such option") for line in lines)
    assert any(line.startswith("  STUDY_ID: 'patient one' is not a study id") for line in lines)
    assert "  --format: 'xml' is not a format: jsonl or csv" in lines
    assert any(line.startswith("  --output: the directory") and "does not exist" in line for line in lines)
    directory = await cli("audit", "AC-1001", "--output", str(tmp_path))
    assert directory.exit_code == USAGE_ERROR_EXIT_CODE and "is a directory" in directory.stderr


def test_the_help_names_the_formats_and_the_entries() -> None:
    text = CliRunner().invoke(app, ["audit", "--help"], env={"COLUMNS": "200"}).stdout
    assert "jsonl (default) or csv" in text and "refused_attempt" in text
