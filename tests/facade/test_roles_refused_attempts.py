"""The domain's role rules on the trial client and on a direct Temporal update, and every refused attempt through
the client logged (a WARNING audit line) and kept (table refused_attempts) with who, role, command and reasons."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from config.journey_ids import journey_workflow_id
from domain.journey import commands as cmd
from domain.journey.phases import Phase
from domain.roles import Actor, Role
from facade import CommandRefused, NotPermitted, TrialClient, UnknownPatient
from facade.trial_client import READ_ONLY_ROLES
from records import EventStore
from records.refusals import RefusedAttempt, RefusedAttemptLog
from tests.domain.journey_driver import INVESTIGATOR, NURSE, PHYSICIAN, SUPERVISOR
from tests.facade.infusion_ready import infusion, ready_for_infusion
from tests.facade.journeys import enrollment, to_apheresis, today
from tests.servers import Stack
from workflows.patient_journey import COMMAND_REJECTED, PatientJourneyWorkflow

# The audit line names these and nothing else: no value typed in, no PHI.
AUDIT_LINE_KEYS = {
    "event",
    "log_level",
    "study_id",
    "actor_user_id",
    "actor_role",
    "command_kind",
    "refusal",
    "reasons",
    "update_id",
}


def kept(stack: Stack, study_id: str) -> list[RefusedAttempt]:
    return RefusedAttemptLog(stack.store.engine).for_patient(study_id)


def audit_lines(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [line for line in logs if line["event"] == "refused_attempt"]


def test_the_read_only_roles_are_derived_from_the_domains_permissions() -> None:
    # The DSMB writes no journey step: its only entry is the signed decision on a paused trial (TrialWorkflow).
    assert {Role.SUPERVISOR, Role.DSMB} == READ_ONLY_ROLES


async def test_a_nurse_cannot_record_an_infusion_and_the_attempt_is_logged_and_kept(stack: Stack) -> None:
    trial = stack.trial
    fields = await ready_for_infusion(trial, "RL-1001")
    before = stack.store.last_sequence("RL-1001")

    with capture_logs() as logs, pytest.raises(NotPermitted) as raised:
        await trial.record("RL-1001", infusion(NURSE, fields), update_id="rl-1001-by-the-nurse")

    # The patient is ready: the role is the one reason, and it says who may.
    assert raised.value.code == "forbidden" and isinstance(raised.value, CommandRefused)
    assert raised.value.reasons == (
        "a nurse cannot record infusion; this must be done by a physician or an investigator",
    )
    assert stack.store.last_sequence("RL-1001") == before
    [line] = audit_lines(logs)
    assert set(line) == AUDIT_LINE_KEYS and line["log_level"] == "warning"
    assert line["study_id"] == "RL-1001" and line["actor_user_id"] == NURSE.user_id and line["actor_role"] == "nurse"
    assert line["command_kind"] == "record_infusion" and line["refusal"] == "forbidden"
    assert line["reasons"] == list(raised.value.reasons) and line["update_id"] == "rl-1001-by-the-nurse"

    [attempt] = kept(stack, "RL-1001")
    assert (attempt.actor_user_id, attempt.actor_role, attempt.command_kind, attempt.refusal) == (
        NURSE.user_id,
        "nurse",
        "record_infusion",
        "forbidden",
    )
    assert attempt.reasons == raised.value.reasons and attempt.update_id == "rl-1001-by-the-nurse"

    # A physician may: the state was right, only the role was not.
    result = await trial.record("RL-1001", infusion(PHYSICIAN, fields))
    assert [event.payload.type for event in result.events] == ["cells_infused", "daily_monitoring_started"]
    assert (await trial.status("RL-1001")).phase is Phase.TOXICITY_OBSERVATION


async def test_a_supervisor_reads_but_every_write_is_refused_before_it_reaches_temporal(stack: Stack) -> None:
    trial = stack.trial
    await trial.enroll(enrollment("RL-1002"))
    supervisor = Actor(user_id="monitor.zhou", role=Role.SUPERVISOR)

    with pytest.raises(NotPermitted) as raised:
        await trial.record("RL-1002", cmd.ConfirmEligibility(actor=supervisor))
    assert raised.value.message == "a supervisor can read the trial record but not write to it"
    assert raised.value.reasons == (
        "supervisors can read the record but not confirm eligibility; this must be done by an investigator",
    )
    # Refused for the role, not for the unknown patient: nothing is asked of Temporal.
    with pytest.raises(NotPermitted):
        await trial.record("RL-9999", cmd.ConfirmEligibility(actor=supervisor))
    with pytest.raises(NotPermitted):
        await trial.enroll(enrollment("RL-1003").model_copy(update={"actor": supervisor}))
    with pytest.raises(UnknownPatient):
        await trial.status("RL-1003")  # no journey was started

    assert (await trial.status("RL-1002")).phase is Phase.SCREENING  # reading is allowed, nothing changed
    assert [(a.actor_user_id, a.command_kind, a.refusal) for a in kept(stack, "RL-1002")] == [
        ("monitor.zhou", "confirm_eligibility", "forbidden")
    ]
    assert [a.command_kind for a in kept(stack, "RL-1003")] == ["enroll_patient"]
    assert [a.study_id for a in kept(stack, "RL-9999")] == ["RL-9999"]


async def test_protocol_refusals_and_unknown_patients_are_kept_too_each_named_by_its_code(stack: Stack) -> None:
    trial = stack.trial
    await to_apheresis(trial, "RL-1004")
    with pytest.raises(CommandRefused) as raised:
        await trial.record("RL-1004", cmd.ConfirmEligibility(actor=INVESTIGATOR))
    assert not isinstance(raised.value, NotPermitted) and raised.value.code == "command_refused"
    with pytest.raises(UnknownPatient):
        await trial.record("RL-1005", cmd.ConfirmEligibility(actor=INVESTIGATOR))

    [protocol] = kept(stack, "RL-1004")
    assert protocol.refusal == "command_refused" and protocol.reasons == raised.value.reasons
    [unknown] = kept(stack, "RL-1005")
    assert unknown.refusal == "unknown_patient" and "no patient with study id RL-1005" in unknown.reasons[0]


async def test_a_direct_temporal_update_meets_the_same_rules_in_the_workflows_validator(
    stack: Stack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past the trial client's own checks (a sealed update sent straight to Temporal): the update validator runs the
    domain's rules, and the worker's log keeps each refused attempt. Unsealed updates never get this far
    (tests/security/test_temporal_is_no_door.py)."""
    fields = await ready_for_infusion(stack.trial, "RL-1006")
    handle = stack.trial.temporal.get_workflow_handle_for(PatientJourneyWorkflow.run, journey_workflow_id("RL-1006"))
    before = await handle.query(PatientJourneyWorkflow.status)

    attempts = [
        (infusion(NURSE, fields), "a nurse cannot record infusion"),
        (infusion(SUPERVISOR, fields), "supervisors can read the record but not record infusion"),
        (
            cmd.RecordApheresis(actor=SUPERVISOR, collected_on=today()),
            "supervisors can read the record but not record apheresis",
        ),
    ]
    for command, reason in attempts:
        caplog.clear()
        with (
            caplog.at_level(logging.WARNING, logger="temporalio.workflow"),
            pytest.raises(WorkflowUpdateFailedError) as raised,
        ):
            await handle.execute_update(PatientJourneyWorkflow.record, command)
        cause = raised.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == COMMAND_REJECTED
        assert any(str(detail).startswith(reason) for detail in cause.details), cause.details
        [logged] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("command refused:")]
        assert logged.startswith(
            f"command refused: {command.kind} by {command.actor.user_id} ({command.actor.role.value}): "
        )
        assert reason in logged and "RL-1006" in logged  # the study id, from the workflow id the SDK adds

    # Refused in the validator: nothing recorded, nothing changed.
    assert stack.store.last_sequence("RL-1006") == before.last_sequence
    assert await handle.query(PatientJourneyWorkflow.status) == before


async def test_a_record_that_cannot_keep_the_attempt_still_refuses_and_says_so_in_the_log(
    stack: Stack,
    tmp_path: Path,
) -> None:
    never_migrated = EventStore(f"sqlite:///{tmp_path / 'never-migrated.db'}")
    try:
        with capture_logs() as logs, pytest.raises(NotPermitted):
            await TrialClient(stack.temporal, never_migrated).record(
                "RL-1007", cmd.ConfirmEligibility(actor=SUPERVISOR)
            )
    finally:
        never_migrated.close()
    assert [line["event"] for line in logs if line.get("study_id") == "RL-1007"] == [
        "refused_attempt",
        "refused_attempt_not_kept",
    ]
