"""`trial enroll`, `record`, `status`, `list`, `timeline`, `report` and `verify` end to end: the typer app run
in-process against a real Temporal dev server and a worker, on the settings and identity a user would configure."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import structlog
from click.testing import Result
from typer.testing import CliRunner

from cli.common import USAGE_ERROR_EXIT_CODE, Problems
from cli.main import app
from cli.staff import COMMAND_MODELS, REFUSED_EXIT_CODE, command_fields
from config.journey_ids import TASK_QUEUE
from domain.journey.command_registry import STAFF_COMMANDS
from domain.journey.phases import Phase
from observability.logging import configure_logging
from records.deliveries import DeliveryLedger, DeliveryTarget
from tests.facade.journeys import GRADE_3_CRS, SCREEN_FAILURE, enrollment, infused, to_lymphodepletion, today
from tests.facade.late_journey import late_journey
from tests.servers import Stack
from tests.waiting import poll
from workers.dev_server import free_port
from workers.worker import journey_worker

RECORD_FILE = "trial-record.db"  # the record the `stack` fixture's worker appends to


@dataclass(frozen=True)
class Cli:
    """The `trial` app, configured as a user would: the server's address, the record, who acts."""

    env: dict[str, str]
    data_dir: Path

    async def __call__(self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
        runner = CliRunner()
        # In a thread: the CLI runs its own event loop while this one keeps the worker serving.
        return await asyncio.to_thread(
            runner.invoke, app, list(args), input=stdin, env={**self.env, **(env or {})}, catch_exceptions=False
        )


@asynccontextmanager
async def worker_logs_kept_out_of_the_cli_output() -> AsyncIterator[None]:
    """The worker logs while the CLI runs, and CliRunner swaps sys.stdout for the whole process meanwhile; the CLI
    configures logging for itself too, so the workflows' own lines (a refused command) get a handler of their own."""
    saved_structlog, root = structlog.get_config(), logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging("json", "WARNING", stream=sys.__stderr__)
    workflows = logging.getLogger("temporalio.workflow")
    workflows.addHandler(own := logging.StreamHandler(sys.__stderr__))
    workflows.propagate = False
    try:
        yield
    finally:
        workflows.removeHandler(own)
        workflows.propagate = True
        structlog.configure(**saved_structlog)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cli(stack: Stack) -> AsyncIterator[Cli]:
    # The CLI starts journeys on the default task queue: a worker serves it too, on the same record.
    async with worker_logs_kept_out_of_the_cli_output(), journey_worker(stack.temporal, stack.store, TASK_QUEUE):
        yield Cli(
            env={
                "TRIALFLOW_TEMPORAL_ADDRESS": stack.server.address,
                "TRIALFLOW_DATABASE_URL": f"sqlite:///{stack.data_dir / RECORD_FILE}",
                "TRIALFLOW_USER": "coordinator.kim",
                "TRIALFLOW_ROLE": "research_coordinator",
                "COLUMNS": "200",  # rich tables wide enough that a reason is on one line
            },
            data_dir=stack.data_dir,
        )


def screening_file(directory: Path, study_id: str, **overrides: Any) -> str:
    path = directory / f"{study_id}-screening.json"
    path.write_text(json.dumps(enrollment(study_id, **overrides).screening.model_dump(mode="json")))
    return str(path)


def as_investigator() -> tuple[str, ...]:
    return ("--by", "dr.osei", "--role", "investigator")


async def poll_list(cli: Cli, *args: str, until: str) -> list[dict[str, Any]]:
    """`trial list --json` until `until` is listed: Temporal's visibility index is not instant."""
    for _ in range(100):
        result = await cli("list", "--json", *args)
        assert result.exit_code == 0, result.output
        rows: list[dict[str, Any]] = json.loads(result.stdout)
        if any(row["study_id"] == until for row in rows):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"{until} is not listed with {args}")


# ---------------------------------------------------------------- operators


async def test_enroll_then_record_steps_then_read_them_back(cli: Cli, tmp_path: Path) -> None:
    enrolled = await cli("enroll", "--study-id", "TF-2001", "--file", screening_file(tmp_path, "TF-2001"), "--json")
    assert enrolled.exit_code == 0, enrolled.output
    result = json.loads(enrolled.stdout)
    assert result["eligible"] is True and result["failed_criteria"] == []
    assert result["phase"] == Phase.SCREENING

    confirmed = await cli("record", "TF-2001", "confirm-eligibility", *as_investigator(), "--json")
    assert confirmed.exit_code == 0, confirmed.output
    events = json.loads(confirmed.stdout)["events"]
    assert events[0]["payload"]["type"] == "eligibility_confirmed"
    assert events[0]["actor"] == {"user_id": "dr.osei", "role": "investigator"}

    # Fields from stdin and from --set; the same idempotency key twice is one consent, answered twice.
    consent = json.dumps({"guardian_consent_signed_on": today().isoformat(), "consent_form_version": "ICF v2.1"})
    args = ("record", "TF-2001", "record-consent", "-f", "-", "--set", "child_assent_obtained=true")
    first = await cli(*args, *as_investigator(), "--idempotency-key", "consent-TF-2001", "--json", stdin=consent)
    again = await cli(*args, *as_investigator(), "--idempotency-key", "consent-TF-2001", "--json", stdin=consent)
    assert first.exit_code == again.exit_code == 0, first.output + again.output
    assert json.loads(first.stdout) == json.loads(again.stdout)

    status = await cli("status", "TF-2001", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["phase"] == Phase.APHERESIS

    timeline = await cli("timeline", "TF-2001", "--json")
    entries = json.loads(timeline.stdout)["entries"]
    types = [entry["type"] for entry in entries]
    assert types.count("consent_signed") == 1  # the resent consent was not applied twice
    assert types[0] == "patient_enrolled" and "eligibility_confirmed" in types
    assert [entry["sequence"] for entry in entries] == list(range(1, len(entries) + 1))

    readable = await cli("status", "TF-2001")
    assert readable.exit_code == 0 and "Patient TF-2001" in readable.stdout and "apheresis" in readable.stdout
    readable_timeline = await cli("timeline", "TF-2001")
    assert "consent_signed" in readable_timeline.stdout and "dr.osei" in readable_timeline.stdout

    listed = await poll_list(cli, "--phase", "apheresis", until="TF-2001")
    assert all(row["phase"] == "apheresis" for row in listed)
    elsewhere = await cli("list", "--json", "--phase", "screening")
    assert "TF-2001" not in {row["study_id"] for row in json.loads(elsewhere.stdout)}


async def test_a_screen_failure_is_printed_with_every_reason_and_a_second_enrollment_is_refused(
    cli: Cli, tmp_path: Path
) -> None:
    screening = screening_file(tmp_path, "TF-2002", **SCREEN_FAILURE)
    enrolled = await cli("enroll", "--study-id", "TF-2002", "--file", screening)
    assert enrolled.exit_code == 0, enrolled.output
    assert "SCREEN FAILURE: 2 criteria failed" in enrolled.stdout
    assert "Lansky score 30" in enrolled.stdout and "prior_car_t" in enrolled.stdout

    twice = await cli("enroll", "--study-id", "TF-2002", "--file", screening)
    assert twice.exit_code == REFUSED_EXIT_CODE
    assert "TF-2002 is already enrolled" in twice.stderr and "Traceback" not in twice.output

    # Its journey has ended: nothing more can be recorded (the workflow may take a moment to close).
    for _ in range(50):
        closed = await cli("record", "TF-2002", "confirm-eligibility", *as_investigator())
        if "has ended" in closed.stderr:
            break
        await asyncio.sleep(0.1)
    assert closed.exit_code == REFUSED_EXIT_CODE
    assert "the journey of TF-2002 has ended (off study)" in closed.stderr


# ---------------------------------------------------------------- refusals and problems


async def test_a_refusal_prints_every_reason_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    enrolled = await cli("enroll", "--study-id", "TF-2003", "--file", screening_file(tmp_path, "TF-2003"))
    assert enrolled.exit_code == 0, enrolled.output

    # A nurse recording apheresis before eligibility is confirmed and consent signed.
    refused = await cli(
        "record",
        "TF-2003",
        "record-apheresis",
        "--set",
        f"collected_on={today()}",
        "--by",
        "nurse.ali",
        "--role",
        "nurse",
    )
    assert refused.exit_code == REFUSED_EXIT_CODE
    assert "TF-2003: refused for 2 reasons" in refused.stderr
    reasons = [line for line in refused.stderr.splitlines() if line.startswith("  - ")]
    assert len(reasons) == 2 and "Traceback" not in refused.output
    assert any("a nurse cannot record apheresis" in reason for reason in reasons)
    assert any("awaiting the investigator's confirmation" in reason for reason in reasons)

    as_json = await cli("record", "TF-2003", "record-apheresis", "--set", f"collected_on={today()}", "--json")
    assert as_json.exit_code == REFUSED_EXIT_CODE
    problem = json.loads(as_json.stderr)  # stderr is the problem document alone
    assert problem["code"] == "forbidden" and problem["study_id"] == "TF-2003" and problem["reasons"]

    timeline = await cli("timeline", "TF-2003", "--json")
    assert "apheresis_collected" not in {e["type"] for e in json.loads(timeline.stdout)["entries"]}


async def test_every_input_problem_is_named_before_anything_is_sent(cli: Cli) -> None:
    result = await cli(
        "record",
        "not a study id",
        "record-consent",
        "--set",
        "guardian_consent_signed_on=2026-02-30",
        "--set",
        "consent_form_versoin=v2",
        "--reason",
        "why",
        "--bogus",
        env={"TRIALFLOW_ROLE": "", "TRIALFLOW_USER": ""},
    )
    assert result.exit_code == USAGE_ERROR_EXIT_CODE
    for named in (
        "--by: who acts is required",
        "--role: the acting user's role is required",
        "STUDY_ID: 'not a study id' is not a study id",
        "guardian_consent_signed_on: must be a real date",
        "consent_form_versoin: is not a known field (did you mean consent_form_version?)",
        "consent_form_version: is required",
        "--reason: record-consent has no reason to give",
        "--bogus: no such option",
    ):
        assert named in result.stderr, result.stderr

    unknown_step = await cli("record", "TF-2001", "record-teleportation", "--role", "system")
    assert unknown_step.exit_code == USAGE_ERROR_EXIT_CODE
    assert "'record-teleportation' is not a step staff record" in unknown_step.stderr
    assert "--role: system is the workflow's own role" in unknown_step.stderr

    actor_in_file = await cli("record", "TF-2001", "confirm-eligibility", "-f", "-", stdin='{"actor": {}}')
    assert "the acting user comes from --by/--role" in actor_in_file.stderr


async def test_an_unknown_patient_and_an_unreachable_server_are_one_plain_line(cli: Cli) -> None:
    unknown = await cli("status", "TF-9999")
    assert unknown.exit_code == REFUSED_EXIT_CODE
    assert unknown.stderr.strip() == "Error: no patient with study id TF-9999 is enrolled in the trial"
    unknown_record = await cli("record", "TF-9999", "confirm-eligibility", *as_investigator())
    assert unknown_record.exit_code == REFUSED_EXIT_CODE and "TF-9999" in unknown_record.stderr

    address = f"127.0.0.1:{free_port()}"
    unreachable = await cli("report", env={"TRIALFLOW_TEMPORAL_ADDRESS": address})
    assert unreachable.exit_code == REFUSED_EXIT_CODE
    assert (
        unreachable.stderr.count("\n") == 1 and f"cannot reach the Temporal server at {address}" in unreachable.stderr
    )


# ---------------------------------------------------------------- the trial


async def test_a_whole_journey_recorded_through_the_cli_reads_back_whole(cli: Cli, tmp_path: Path) -> None:
    """Every staff step from consent to the one-year marrow, entered late from paper records, each by its role."""
    enrollment, steps = late_journey("TF-2021", datetime.now(UTC))
    screening = tmp_path / "TF-2021-screening.json"
    screening.write_text(enrollment.screening.model_dump_json())
    enrolled = await cli("enroll", "--study-id", "TF-2021", "--file", str(screening), "--json")
    assert enrolled.exit_code == 0, enrolled.output

    for step in steps:
        fields = step.model_dump_json(exclude={"actor", "kind"})
        who = ("--by", step.actor.user_id, "--role", step.actor.role.value)
        recorded = await cli("record", "TF-2021", step.kind.replace("_", "-"), "-f", "-", *who, "--json", stdin=fields)
        assert recorded.exit_code == 0, f"{step.kind}: {recorded.output}"

    status = json.loads((await cli("status", "TF-2021", "--json")).stdout)
    assert status["phase"] == Phase.FOLLOW_UP and status["primary_endpoint"] == "cr"
    timeline = json.loads((await cli("timeline", "TF-2021", "--json")).stdout)["entries"]
    assert {entry["type"] for entry in timeline} >= {"cells_infused", "disease_assessed", "visit_completed"}
    assert await poll_list(cli, "--phase", "follow_up", until="TF-2021")


async def test_list_by_overdue_and_by_open_expedited_report(cli: Cli, stack: Stack) -> None:
    # Lymphodepletion prescribed to start two days ago and no dose given: overdue. A grade 3 CRS: a report open.
    await to_lymphodepletion(stack.trial, "TF-2011", today() + timedelta(days=3))
    await infused(stack.trial, "TF-2012", crs=GRADE_3_CRS)

    late = await poll_list(cli, "--overdue", until="TF-2011")
    assert all(row["overdue"] for row in late) and "TF-2012" not in {row["study_id"] for row in late}
    reported = await poll_list(cli, "--open-report", until="TF-2012")
    assert all(row["expedited_report_open"] for row in reported) and "TF-2011" not in {r["study_id"] for r in reported}
    [row] = [row for row in reported if row["study_id"] == "TF-2012"]
    assert (row["phase"], row["highest_crs_grade"]) == ("toxicity_observation", 3)
    both = json.loads((await cli("list", "--json", "--overdue", "--open-report")).stdout)
    assert "TF-2011" not in {row["study_id"] for row in both}  # the filters combine
    assert all(row["overdue"] and row["expedited_report_open"] for row in both)

    readable = await cli("list", "--open-report")
    assert readable.exit_code == 0 and "TF-2012" in readable.stdout and "TF-2011" not in readable.stdout


async def test_report_and_verify(cli: Cli, tmp_path: Path) -> None:
    for study_id in ("TF-2004", "TF-2005"):
        enrolled = await cli("enroll", "--study-id", study_id, "--file", screening_file(tmp_path, study_id))
        assert enrolled.exit_code == 0, enrolled.output

    # The record has an enrollment once its workflow's first task appended it: shortly after `enroll` returns.
    async def reported() -> dict[str, Any] | None:
        report = await cli("report", "--json")
        assert report.exit_code == 0, report.output
        document: dict[str, Any] = json.loads(report.stdout)
        return document if document["enrollment"]["by_phase"]["screening"] >= 2 else None

    document = await poll(reported, "both enrollments in the report")
    assert document["enrollment"]["patients"] >= 2
    assert document["enrollment"]["by_phase"]["screening"] >= 2
    assert set(document["primary_endpoint"]["cr_rate"]) >= {"rate", "ci_low", "ci_high", "confidence"}
    assert document["stopping_rule"]["paused"] is False
    readable = await cli("report")
    assert "Clopper-Pearson" in readable.stdout or "none assessed yet" in readable.stdout
    assert "Stopping rule" in readable.stdout and "not triggered" in readable.stdout

    verified = await cli("verify", "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["problems"] == []
    assert "intact" in (await cli("verify")).stdout

    # A copy of the record with one event edited afterwards: named, and exit 1.
    damaged = tmp_path / "damaged.db"
    with sqlite3.connect(cli.data_dir / RECORD_FILE) as source, sqlite3.connect(damaged) as copy:
        source.backup(copy)
        copy.execute("DROP TRIGGER trial_events_no_update")  # as an intruder with DDL rights would
        copy.execute("UPDATE trial_events SET reason = 'edited later' WHERE study_id = 'TF-2004' AND sequence = 1")
    tampered = await cli("verify", env={"TRIALFLOW_DATABASE_URL": f"sqlite:///{damaged}"})
    assert tampered.exit_code == REFUSED_EXIT_CODE
    assert "problem" in tampered.stdout and "TF-2004" in tampered.stdout


# ---------------------------------------------------------------- the fields of a command, without a server


@pytest.mark.parametrize(
    ("step", "options", "expected"),
    [
        ("take-off-study", {"reason": "family moved abroad"}, {"reason": "family moved abroad"}),
        (
            "record-lymphodepletion-dose",
            {"reason": "vomited half the dose"},
            {"deviation_reason": "vomited half the dose"},
        ),
        (
            "record-visit",
            {"reason": "wrong date", "corrects": 7},
            {"correction": {"supersedes_sequence": 7, "reason": "wrong date"}},
        ),
        (
            "assess-crs",
            {"pairs": ["findings.hypotension=true", "findings.oxygen=null"]},
            {"findings": {"hypotension": "true", "oxygen": None}},
        ),
    ],
)
def test_reason_corrections_and_nested_fields_go_where_the_command_has_them(
    step: str, options: dict[str, Any], expected: dict[str, Any]
) -> None:
    problems = Problems()
    values = command_fields(
        step,
        COMMAND_MODELS[step],
        {},
        options.get("pairs", []),
        options.get("reason"),
        options.get("corrects"),
        problems,
    )
    assert problems.found == [] and values == expected


@pytest.mark.parametrize(
    ("step", "options", "problem"),
    [
        ("record-visit", {"reason": "late"}, "give --corrects SEQUENCE too"),
        ("record-visit", {"corrects": 3}, "a correction needs its reason"),
        ("record-consent", {"corrects": 3, "reason": "x"}, "is not a command that corrects"),
        ("record-consent", {"pairs": ["no_equals_sign"]}, "is not field=value"),
    ],
)
def test_a_misplaced_reason_or_correction_is_named(step: str, options: dict[str, Any], problem: str) -> None:
    problems = Problems()
    command_fields(
        step,
        COMMAND_MODELS[step],
        {},
        options.get("pairs", []),
        options.get("reason"),
        options.get("corrects"),
        problems,
    )
    assert any(problem in found.message for found in problems.found), problems.found


def test_every_staff_command_but_enrollment_is_a_step() -> None:
    assert "enroll-patient" not in COMMAND_MODELS
    assert {"confirm-eligibility", "record-consent", "assess-crs", "record-visit", "take-off-study"} <= set(
        COMMAND_MODELS
    )


def test_a_steps_help_says_what_it_records_who_may_whether_it_is_signed_and_its_fields_with_units() -> None:
    shown = CliRunner().invoke(app, ["record", "TF-001", "assess-crs", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert STAFF_COMMANDS["assess_crs"].help in shown.output
    assert "Recorded by: investigator, nurse, physician" in shown.output
    assert "Electronically signed: when the CRS grade is 3 or higher" in shown.output
    [temperature] = [line for line in shown.output.splitlines() if "findings.max_temperature_c" in line]
    assert "°C" in temperature and "required" in temperature

    release = CliRunner().invoke(app, ["record", "TF-001", "record-product-release", "--help"], env={"COLUMNS": "200"})
    [cells] = [line for line in release.output.splitlines() if "total_viable_car_cells" in line]
    assert "cells" in cells.split("total_viable_car_cells")[1]

    # Without a step, the command's own help, which lists every step.
    general = CliRunner().invoke(app, ["record", "--help"], env={"COLUMNS": "200"})
    assert general.exit_code == 0 and "record-consent" in general.output and "--idempotency-key" in general.output


async def test_notifications_that_did_not_arrive(cli: Cli, stack: Stack) -> None:
    ledger = DeliveryLedger(stack.store.engine)  # the record the CLI reads
    target = DeliveryTarget(
        notification_key="TF-2090/9/investigator",
        study_id="TF-2090",
        role="investigator",
        staff_id="dr.li",
        channel="webhook",
        recipient="https://chat.hospital.example#3f2a",
    )
    ledger.record_failure(target, "HTTP 503", permanent=False)
    listed = await cli("notifications", "--study-id", "TF-2090", "--json")
    assert listed.exit_code == 0, listed.output
    [failed] = json.loads(listed.stdout)
    assert (failed["notification_key"], failed["last_error"]) == ("TF-2090/9/investigator", "HTTP 503")
    readable = await cli("notifications", "--study-id", "TF-2090")
    assert "HTTP 503" in readable.stdout and "not yet" in readable.stdout
    assert "Every notification was delivered" in (await cli("notifications", "--study-id", "TF-2091")).stdout
    refused = await cli("notifications", "--study-id", "not an id")
    assert refused.exit_code == USAGE_ERROR_EXIT_CODE and "--study-id" in refused.stderr
