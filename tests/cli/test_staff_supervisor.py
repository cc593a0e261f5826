"""`trial enroll`, `record`, `status`, `list`, `timeline`, `report`, `verify` and `notifications` end to end: the
typer app run in-process as a client of the HTTP API in front of a real Temporal dev server and a worker, each person
signed in with a token of their own (`trial login --profile USER --token-stdin`)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import update
from typer.testing import CliRunner

from cli.common import USAGE_ERROR_EXIT_CODE, Problems
from cli.main import app
from cli.staff import COMMAND_MODELS, REFUSED_EXIT_CODE, command_fields
from domain.free_text import LABEL_MAX_LENGTH, LABEL_RULE
from domain.journey.command_registry import STAFF_COMMANDS, Signed
from domain.journey.phases import Phase
from domain.protocol import PROTOCOL_V1
from domain.roles import Role
from domain.statistics import evaluate_stopping_rule
from records.deliveries import DeliveryLedger, DeliveryTarget
from records.patient_projection import project_patient
from records.schema import patient_summaries
from simulation.journey_steps import printed_name
from tests.cli.trial_cli import SIGNING_PIN, TrialCli, trial_cli_over_api, worker_logs_kept_out_of_the_cli_output
from tests.facade.journeys import (
    GRADE_3_CRS,
    SCREEN_FAILURE,
    enrollment,
    infused,
    to_apheresis,
    to_lymphodepletion,
    today,
)
from tests.facade.late_journey import late_journey
from tests.servers import Stack
from tests.waiting import poll
from workers.dev_server import free_port

Cli = TrialCli
SIGNED = ("--pin-stdin",)  # with stdin=SIGNING_PIN: the signer's PIN, as a script gives it


@pytest.fixture(scope="module")
def quiet_worker() -> Iterator[None]:
    with worker_logs_kept_out_of_the_cli_output():
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cli(stack: Stack, quiet_worker: None, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cli]:
    """The CLI signed in as a research coordinator (the default profile of this module)."""
    async with trial_cli_over_api(stack, tmp_path_factory.mktemp("cli-over-api")) as anonymous:
        yield await anonymous.signed_in("coordinator.kim", Role.RESEARCH_COORDINATOR)


async def as_investigator(cli: Cli) -> Cli:
    return await cli.signed_in("dr.osei", Role.INVESTIGATOR)


def screening_file(directory: Path, study_id: str, **overrides: Any) -> str:
    path = directory / f"{study_id}-screening.json"
    path.write_text(json.dumps(enrollment(study_id, **overrides).screening.model_dump(mode="json")))
    return str(path)


async def poll_list(cli: Cli, *args: str, until: str) -> list[dict[str, Any]]:
    """`trial list --json` until `until` is listed: Temporal's visibility index is not instant."""

    async def listed() -> list[dict[str, Any]] | None:
        result = await cli("list", "--json", *args)
        assert result.exit_code == 0, result.output
        rows: list[dict[str, Any]] = json.loads(result.stdout)
        return rows if any(row["study_id"] == until for row in rows) else None

    return await poll(listed, f"{until} listed with {args}")


# ---------------------------------------------------------------- operators


async def test_enroll_then_record_steps_then_read_them_back(cli: Cli, tmp_path: Path) -> None:
    enrolled = await cli("enroll", "--study-id", "TF-2001", "--file", screening_file(tmp_path, "TF-2001"), "--json")
    assert enrolled.exit_code == 0, enrolled.output
    result = json.loads(enrolled.stdout)
    assert result["eligible"] is True and result["failed_criteria"] == []
    assert result["phase"] == Phase.SCREENING

    investigator = await as_investigator(cli)
    confirmed = await investigator("record", "TF-2001", "confirm-eligibility", "--json", *SIGNED, stdin=SIGNING_PIN)
    assert confirmed.exit_code == 0, confirmed.output
    events = json.loads(confirmed.stdout)["events"]
    assert events[0]["payload"]["type"] == "eligibility_confirmed"
    assert events[0]["actor"] == {"user_id": "dr.osei", "role": "investigator"}

    # Fields from a file and from --set, signed; the same idempotency key twice is one consent, answered twice.
    consent = tmp_path / "consent.json"
    consent.write_text(
        json.dumps({"guardian_consent_signed_on": today().isoformat(), "consent_form_version": "ICF v2.1"})
    )
    args = ("record", "TF-2001", "record-consent", "-f", str(consent), "--set", "child_assent_obtained=true", *SIGNED)
    first = await investigator(*args, "--idempotency-key", "consent-TF-2001", "--json", stdin=SIGNING_PIN)
    again = await investigator(*args, "--idempotency-key", "consent-TF-2001", "--json", stdin=SIGNING_PIN)
    assert first.exit_code == again.exit_code == 0, first.output + again.output
    assert json.loads(first.stdout) == json.loads(again.stdout)

    status = await cli("status", "TF-2001", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["phase"] == Phase.APHERESIS
    # Both signed steps show their signature: the printed name the token carries, the time, the meaning.
    signatures = json.loads(status.stdout)["signatures"]
    assert [entry["event_type"] for entry in signatures] == ["eligibility_confirmed", "consent_signed"]
    assert {(e["signature"]["printed_name"], e["signature"]["meaning"]) for e in signatures} == {
        (printed_name("dr.osei"), "author")
    }

    timeline = await cli("timeline", "TF-2001", "--json")
    entries = json.loads(timeline.stdout)["entries"]
    types = [entry["type"] for entry in entries]
    assert types.count("consent_signed") == 1  # the resent consent was not applied twice
    assert types[0] == "patient_enrolled" and "eligibility_confirmed" in types
    # Each entry is recorded under whoever was signed in: never a name given on the command line.
    assert (entries[0]["actor_user_id"], entries[0]["actor_role"]) == ("coordinator.kim", "research_coordinator")
    assert {(e["actor_user_id"], e["actor_role"]) for e in entries if e["type"] == "consent_signed"} == {
        ("dr.osei", "investigator")
    }
    assert [entry["sequence"] for entry in entries] == list(range(1, len(entries) + 1))

    readable = await cli("status", "TF-2001")
    assert readable.exit_code == 0 and "Patient TF-2001" in readable.stdout and "apheresis" in readable.stdout
    assert "Electronic signatures" in readable.stdout and printed_name("dr.osei") in readable.stdout
    readable_timeline = await cli("timeline", "TF-2001")
    assert "consent_signed" in readable_timeline.stdout and "dr.osei" in readable_timeline.stdout

    listed = await poll_list(cli, "--phase", "apheresis", until="TF-2001")
    assert all(row["phase"] == "apheresis" for row in listed)
    elsewhere = await cli("list", "--json", "--phase", "screening")
    assert "TF-2001" not in {row["study_id"] for row in json.loads(elsewhere.stdout)}


async def test_a_screen_failure_is_printed_with_every_reason_and_enrolling_it_again_screens_it_again(
    cli: Cli, tmp_path: Path
) -> None:
    screening = screening_file(tmp_path, "TF-2002", **SCREEN_FAILURE)
    enrolled = await cli("enroll", "--study-id", "TF-2002", "--file", screening)
    assert enrolled.exit_code == 0, enrolled.output
    assert "SCREEN FAILURE: 2 criteria failed" in enrolled.stdout
    assert "Lansky score 30" in enrolled.stdout and "prior_car_t" in enrolled.stdout

    # The same study id again: a new screening attempt of the same patient (failing again here), not a new patient.
    twice = await cli("enroll", "--study-id", "TF-2002", "--file", screening, "--json")
    assert twice.exit_code == 0, twice.output
    again = json.loads(twice.stdout)
    assert again["screening_attempt"] == 2 and again["eligible"] is False
    # An enrolled patient's study id is never enrolled a second time.
    eligible = screening_file(tmp_path, "TF-2081")
    assert (await cli("enroll", "--study-id", "TF-2081", "--file", eligible)).exit_code == 0
    refused = await cli("enroll", "--study-id", "TF-2081", "--file", eligible)
    assert refused.exit_code == REFUSED_EXIT_CODE
    assert "TF-2081 is already enrolled" in refused.stderr and "Traceback" not in refused.output

    # Its journey has ended: nothing more can be recorded (the workflow may take a moment to close).
    investigator = await as_investigator(cli)

    async def refused_as_ended() -> Any:
        closed = await investigator("record", "TF-2002", "confirm-eligibility", *SIGNED, stdin=SIGNING_PIN)
        return closed if "has ended" in closed.stderr else None

    closed = await poll(refused_as_ended, "the screen failure's journey ended")
    assert closed.exit_code == REFUSED_EXIT_CODE
    assert "the journey of TF-2002 has ended (off study)" in closed.stderr


# ---------------------------------------------------------------- refusals and problems


async def test_a_refusal_prints_every_reason_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    enrolled = await cli("enroll", "--study-id", "TF-2003", "--file", screening_file(tmp_path, "TF-2003"))
    assert enrolled.exit_code == 0, enrolled.output

    # A nurse recording apheresis before eligibility is confirmed and consent signed.
    nurse = await cli.signed_in("nurse.ali", Role.NURSE)
    refused = await nurse("record", "TF-2003", "record-apheresis", "--set", f"collected_on={today()}")
    assert refused.exit_code == REFUSED_EXIT_CODE
    assert "TF-2003: refused for 2 reasons" in refused.stderr
    reasons = [line for line in refused.stderr.splitlines() if line.startswith("  - ")]
    assert len(reasons) == 2 and "Traceback" not in refused.output
    assert any("a nurse cannot record apheresis" in reason for reason in reasons)
    assert any("awaiting the investigator's confirmation" in reason for reason in reasons)

    as_json = await nurse("record", "TF-2003", "record-apheresis", "--set", f"collected_on={today()}", "--json")
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
        "--by",
        "dr.anyone",
        "--role",
        "investigator",
    )
    assert result.exit_code == USAGE_ERROR_EXIT_CODE
    for named in (
        "STUDY_ID: 'not a study id' is not a study id",
        "guardian_consent_signed_on: must be a real date",
        "consent_form_versoin: is not a known field (did you mean consent_form_version?)",
        "consent_form_version: is required",
        "--reason: a reason on record-consent belongs to a correction: give --corrects SEQUENCE too",
        "--bogus: no such option",
        "--by: no such option",  # who acts comes from the credential alone
        "--role: no such option",
    ):
        assert named in result.stderr, result.stderr

    unknown_step = await cli("record", "TF-2001", "record-teleportation")
    assert unknown_step.exit_code == USAGE_ERROR_EXIT_CODE
    assert "'record-teleportation' is not a step staff record" in unknown_step.stderr

    actor_in_file = await cli("record", "TF-2001", "confirm-eligibility", "-f", "-", stdin='{"actor": {}}')
    assert "the acting user is whoever signed in (`trial login`)" in actor_in_file.stderr


async def test_an_unknown_patient_and_an_unreachable_api_are_one_plain_line(cli: Cli) -> None:
    unknown = await cli("status", "TF-9999")
    assert unknown.exit_code == REFUSED_EXIT_CODE
    assert unknown.stderr.strip() == "Error: no patient with study id TF-9999 is enrolled in the trial"
    unknown_record = await (await as_investigator(cli))(
        "record", "TF-9999", "confirm-eligibility", *SIGNED, stdin=SIGNING_PIN
    )
    assert unknown_record.exit_code == REFUSED_EXIT_CODE and "TF-9999" in unknown_record.stderr

    elsewhere = f"http://127.0.0.1:{free_port()}"
    unreachable = await cli("report", "--api", elsewhere)
    assert unreachable.exit_code == REFUSED_EXIT_CODE
    assert unreachable.stderr.count("\n") == 1
    assert f"cannot reach the trialflow API at {elsewhere}: is `make run` running" in unreachable.stderr


# ---------------------------------------------------------------- the trial


async def test_a_whole_journey_recorded_through_the_cli_reads_back_whole(cli: Cli, tmp_path: Path) -> None:
    """Every staff step from consent to the one-year marrow, entered late from paper records, each by its role."""
    enrollment, steps = late_journey("TF-2021", datetime.now(UTC))
    screening = tmp_path / "TF-2021-screening.json"
    screening.write_text(enrollment.screening.model_dump_json())
    enrolled = await cli("enroll", "--study-id", "TF-2021", "--file", str(screening), "--json")
    assert enrolled.exit_code == 0, enrolled.output

    for number, step in enumerate(steps):
        fields = tmp_path / f"step-{number}.json"
        fields.write_text(step.model_dump_json(exclude={"actor", "kind", "signature"}))
        who = await cli.signed_in(step.actor.user_id, step.actor.role)
        # Each step that may be signed is: the always-signed ones must be, the others may be.
        signed = SIGNED if STAFF_COMMANDS[step.kind].signed is not Signed.NEVER else ()
        recorded = await who(
            "record", "TF-2021", step.kind.replace("_", "-"), "-f", str(fields), "--json", *signed, stdin=SIGNING_PIN
        )
        assert recorded.exit_code == 0, f"{step.kind}: {recorded.output}"
        assert {event["actor"]["user_id"] for event in json.loads(recorded.stdout)["events"]} == {step.actor.user_id}

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
    for analysis in ("intention_to_treat", "per_protocol"):
        assert set(document["primary_endpoint"][analysis]["cr_rate"]) >= {"rate", "ci_low", "ci_high", "confidence"}
    assert set(document["secondary_endpoints"]) >= {"event_free_survival", "overall_survival", "crs_severe"}
    assert document["stopping_rule"]["paused"] is False
    readable = await cli("report")
    assert "Clopper-Pearson" in readable.stdout or "none assessed yet" in readable.stdout
    assert "Stopping rule" in readable.stdout and "not triggered" in readable.stdout
    assert "Intention to treat" in readable.stdout and "Event-free survival" in readable.stdout

    # --plot writes real PNG images: the survival curves and the stopping rule's posterior.
    plots = tmp_path / "plots"
    plotted = await cli("report", "--plot", str(plots))
    assert plotted.exit_code == 0, plotted.output
    names = ("event_free_survival.png", "overall_survival.png", "stopping_rule_posterior.png")
    assert sorted(p.name for p in plots.iterdir()) == sorted(names)
    for name in names:
        image = (plots / name).read_bytes()
        assert image.startswith(b"\x89PNG\r\n\x1a\n") and image[12:16] == b"IHDR"
        width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")
        assert (width, height) == (700, 450) and len(image) > 10_000  # 7 x 4.5 inches at 100 dpi, drawn on
        assert f"wrote {plots / name}" in plotted.stdout

    # The trial itself (GET /trial): both admitted before their journeys started; the rule over evaluable patients.
    trial = await cli("status", "--trial", "--json")
    assert trial.exit_code == 0, trial.output
    status = json.loads(trial.stdout)
    assert status["enrollment"] == "open" and status["admitted"] >= 2
    rule = status["stopping_rule"]
    assert rule["patients"] == len(status["evaluable"]) and status["accrual_target_infused"] == 20
    expected = evaluate_stopping_rule(rule["toxicities"], rule["patients"], PROTOCOL_V1.stopping_rule)
    assert rule["posterior_probability"] == expected.posterior_probability
    readable_trial = await cli("status", "--trial")
    assert "OPEN" in readable_trial.stdout and "More DLTs that would pause" in readable_trial.stdout
    both = await cli("status", "TF-2004", "--trial")
    assert both.exit_code == 2 and "not both" in both.output
    # The DSMB decides only on a paused trial, signed: refused with the reason, nothing changed.
    board = await cli.signed_in("dsmb.chair", Role.DSMB)
    decision = ("dsmb-decision", "--outcome", "resume", "--decision-id", "DSMB-1", "--rationale", "Reviewed.")
    early = await board(*decision, "--pin-stdin", stdin=SIGNING_PIN)
    assert early.exit_code == REFUSED_EXIT_CODE and "nothing to resume" in early.stderr

    verified = await cli("verify", "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["problems"] == []
    assert "intact" in (await cli("verify")).stdout


async def test_a_summary_edited_in_the_database_is_named_and_left_out_of_the_report(cli: Cli, stack: Stack) -> None:
    study_id = "TF-2004"  # enrolled by the test before
    summary = stack.store.patient_summary(study_id)
    assert summary is not None and not summary.summary["dose_limiting_toxicity"]
    honest = json.loads((await cli("report", "--json")).stdout)
    forged = {**summary.summary, "highest_crs_grade": 4, "dose_limiting_toxicity": True}
    with stack.store.engine.begin() as connection:
        connection.execute(
            update(patient_summaries).where(patient_summaries.c.study_id == study_id).values(payload=json.dumps(forged))
        )
    try:
        verified = await cli("verify")
        assert verified.exit_code == 1
        assert f"the summary of {study_id} is not what its events" in verified.stdout
        readable = await cli("report")
        assert readable.exit_code == 0
        assert "WARNING" in readable.stdout and study_id in readable.stdout
        assert "failed verification" in readable.stdout
        document = json.loads((await cli("report", "--json")).stdout)
        assert [p["study_id"] for p in document["verification"]["excluded"]] == [study_id]
        assert document["verification"]["verified"] is False
        assert document["toxicity"]["dose_limiting_toxicities"] == honest["toxicity"]["dose_limiting_toxicities"]
        assert document["enrollment"]["patients"] == honest["enrollment"]["patients"] - 1
    finally:
        stack.store.rebuild_projections(project_patient, study_ids=[study_id])
    assert (await cli("verify")).exit_code == 0


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
        ("confirm-eligibility", {"corrects": 3, "reason": "x"}, "is not a command that corrects"),
        ("confirm-eligibility", {"reason": "x"}, "confirm-eligibility has no reason to give"),
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


# ---------------------------------------------------------------- the credential


async def test_without_a_credential_every_server_command_is_refused_saying_to_sign_in(cli: Cli, tmp_path: Path) -> None:
    nobody = {"TRIALFLOW_CONFIG_DIR": str(tmp_path / "empty-config")}
    for command in (
        ("status", "TF-2001"),
        ("record", "TF-2001", "confirm-eligibility"),
        ("enroll", "--study-id", "TF-2099", "--file", screening_file(tmp_path, "TF-2099")),
        ("report",),
        ("audit", "TF-2001"),
    ):
        refused = await cli(*command, env=nobody)
        assert refused.exit_code == REFUSED_EXIT_CODE, refused.output
        assert "you are not signed in to the trialflow API at" in refused.stderr
        assert "run `trial login --profile coordinator.kim` first" in refused.stderr, refused.stderr
    assert (await cli("status", "TF-2099")).exit_code == REFUSED_EXIT_CODE  # nothing was enrolled


async def test_the_installed_command_works_from_any_folder(cli: Cli, tmp_path: Path) -> None:
    """`trial` run as a process in an empty folder (no .env, no .data): sign in, record, read back."""
    assert cli.token_file is not None
    enrolled = await cli("enroll", "--study-id", "TF-2031", "--file", screening_file(tmp_path, "TF-2031"))
    assert enrolled.exit_code == 0, enrolled.output
    folder = tmp_path / "anywhere"
    folder.mkdir()
    trial = Path(sys.executable).with_name("trial")
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "TRIALFLOW_API_URL": cli.env["TRIALFLOW_API_URL"],
        "TRIALFLOW_CONFIG_DIR": str(tmp_path / "config"),
        "COLUMNS": "200",
    }

    async def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            str(trial),
            *args,
            cwd=folder,
            env=environment,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate(stdin.encode())
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    token = cli.token("dr.far", Role.INVESTIGATOR)
    code, out, err = await run("login", "--token-stdin", stdin=token + "\n")
    assert code == 0 and "Signed in to" in out and "as dr.far (investigator)" in out, out + err
    code, out, err = await run("signing-pin", "--stdin", stdin=SIGNING_PIN + "\n")
    assert code == 0, out + err
    code, out, err = await run("record", "TF-2031", "confirm-eligibility", "--json")
    assert code == 2 and "no terminal is here to ask for your signing PIN" in err, "a signed step without its PIN"
    code, out, err = await run("record", "TF-2031", "confirm-eligibility", "--json", *SIGNED, stdin=SIGNING_PIN)
    assert code == 0, out + err
    [event] = json.loads(out)["events"]
    assert event["actor"] == {"user_id": "dr.far", "role": "investigator"}
    code, out, err = await run("status", "TF-2031")
    assert code == 0 and "Patient TF-2031" in out, out + err
    assert sorted(path.name for path in folder.iterdir()) == []  # nothing written where it ran


async def test_an_over_long_lot_number_and_a_control_character_exit_2_naming_the_limit_and_the_rule(cli: Cli) -> None:
    cell_lab = await cli.signed_in("cl.zhou", Role.CELL_LAB)
    result = await cell_lab(
        "record",
        "TF-2099",
        "record-product-release",
        "--set",
        f"lot_number={'L' * (LABEL_MAX_LENGTH + 1)}",
        "--set",
        "product_label_coi=COI\tTF2099",
        "--set",
        "total_viable_car_cells=2e8",
        "--set",
        f"released_on={today().isoformat()}",
    )
    assert result.exit_code == USAGE_ERROR_EXIT_CODE, result.output
    assert f"lot_number: must have at most {LABEL_MAX_LENGTH} characters" in result.stderr
    assert f"product_label_coi: {LABEL_RULE} (found U+0009)" in result.stderr


async def test_slots_show_the_calendar_and_status_the_expected_release(cli: Cli, stack: Stack) -> None:
    await to_apheresis(stack.trial, "TF-2095")  # consent booked its slot
    listed = await cli("slots", "--json")
    assert listed.exit_code == 0, listed.output
    calendar = json.loads(listed.stdout)
    [booked] = [b for b in calendar["expected_releases"] if b["study_id"] == "TF-2095"]
    assert calendar["capacity"]["collections_per_week"] == 2
    readable = await cli("slots")
    assert readable.exit_code == 0, readable.output
    assert "Collections by week" in readable.stdout and "TF-2095" in readable.stdout
    assert f"of {calendar['capacity']['max_products_in_manufacturing']}" in readable.stdout
    status = await cli("status", "TF-2095")
    assert "Expected release" in status.stdout and booked["expected_release"] in status.stdout
