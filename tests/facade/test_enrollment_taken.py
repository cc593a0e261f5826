"""An enrollment answers only once its journey has recorded it (finding 3 of issue 14): a journey that refuses it
or never records it leaves nothing half-created, and the same study id can be enrolled again at once."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from config.journey_ids import journey_workflow_id, trial_workflow_id
from config.settling import server_skips_time
from domain.journey.phases import Phase
from domain.protocol import PROTOCOL_V1
from facade import CommandRefused, EnrollmentNotTaken, TrialClient
from facade.errors import AdmissionNotAnswered
from records import EventStore
from security.data_converter import encrypted_data_converter
from security.keys import PayloadKeyring, SealKeyring, new_key
from tests.facade.journeys import SCREEN_FAILURE, enrollment
from tests.servers import Stack
from workers.worker import journey_worker

SHORT_WAIT = timedelta(seconds=2)


async def status_of_workflow(stack: Stack, study_id: str) -> WorkflowExecutionStatus | None:
    """None: no journey was ever started."""
    try:
        description = await stack.temporal.get_workflow_handle(journey_workflow_id(study_id)).describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.status


async def enrolled_again_and_seen(stack: Stack, study_id: str) -> None:
    result = await stack.trial.enroll(enrollment(study_id))
    assert result.phase is Phase.SCREENING
    assert (await stack.trial.status(study_id)).phase is Phase.SCREENING


async def test_the_answer_comes_once_the_enrollment_is_in_the_record(stack: Stack) -> None:
    await stack.trial.enroll(enrollment("TK-001"))
    # No waiting: the record holds the enrollment when the answer comes.
    events = stack.store.events_for("TK-001")
    assert [e.event_type for e in events][:1] == ["patient_enrolled"]


async def test_a_journey_that_refuses_the_enrollments_seal_is_a_refusal_and_leaves_the_study_id_free(
    stack: Stack,
) -> None:
    forger = TrialClient(
        stack.temporal, stack.store, task_queue=stack.task_queue, seal_keys=SealKeyring.new("not-the-workers")
    )
    # The trial refuses the admission's seal first: no journey is started.
    with pytest.raises(CommandRefused) as refused:
        await forger.enroll(enrollment("TK-002"))
    assert "the trial refused the admission's seal" in refused.value.reasons[0]
    assert "not configured" in refused.value.reasons[0]
    # A screen failure takes no place in the trial: nothing asks it, and the journey refuses the enrollment's seal.
    with pytest.raises(CommandRefused) as refused:
        await forger.enroll(enrollment("TK-002", **SCREEN_FAILURE))
    assert "the journey refused the enrollment's seal" in refused.value.reasons[0]
    assert stack.store.last_sequence("TK-002") == 0
    assert await status_of_workflow(stack, "TK-002") is WorkflowExecutionStatus.FAILED
    await enrolled_again_and_seen(stack, "TK-002")


async def test_an_enrollment_no_worker_takes_is_stopped_with_nothing_recorded(stack: Stack) -> None:
    nobody = TrialClient(
        stack.temporal,
        stack.store,
        task_queue="nobody-polls-this-queue",
        seal_keys=stack.seal_keys,
        enrollment_taken_within=SHORT_WAIT,
    )
    # A screen failure takes no place in the trial, so nothing asks the trial first: the journey's own wait is seen.
    with pytest.raises(EnrollmentNotTaken) as not_taken:
        await nobody.enroll(enrollment("TK-003", **SCREEN_FAILURE))
    assert "nothing was recorded" in not_taken.value.message and not not_taken.value.begun
    assert await status_of_workflow(stack, "TK-003") is WorkflowExecutionStatus.TERMINATED
    assert stack.store.last_sequence("TK-003") == 0
    await enrolled_again_and_seen(stack, "TK-003")


async def test_a_journey_whose_first_workflow_task_keeps_failing_is_stopped_and_the_caller_told(stack: Stack) -> None:
    """The worker cannot read this start (encrypted with a key it lacks): its first workflow task fails, again and
    again, as one over Temporal's payload limit did."""
    keyring = PayloadKeyring("k-unknown", {"k-unknown": base64.b64decode(new_key())})
    unreadable = await Client.connect(stack.server.address, data_converter=encrypted_data_converter(keyring))
    client = TrialClient(
        unreadable,
        stack.store,
        task_queue=stack.task_queue,
        seal_keys=stack.seal_keys,
        enrollment_taken_within=SHORT_WAIT,
    )
    with pytest.raises(EnrollmentNotTaken):
        await client.enroll(enrollment("TK-004", **SCREEN_FAILURE))  # no admission asked: see TK-003
    assert await status_of_workflow(stack, "TK-004") is WorkflowExecutionStatus.TERMINATED
    assert stack.store.last_sequence("TK-004") == 0
    await enrolled_again_and_seen(stack, "TK-004")


async def test_an_admission_the_trial_does_not_answer_starts_nothing_and_a_trial_that_never_began_is_stopped(
    stack: Stack,
) -> None:
    queue = f"nobody-polls-this-queue-{uuid.uuid4()}"
    nobody = TrialClient(
        stack.temporal, stack.store, task_queue=queue, seal_keys=stack.seal_keys, enrollment_taken_within=SHORT_WAIT
    )
    with pytest.raises(AdmissionNotAnswered) as not_answered:
        await nobody.enroll(enrollment("TK-006"))
    assert "no journey was started and nothing was recorded" in not_answered.value.message
    assert not not_answered.value.begun
    assert await status_of_workflow(stack, "TK-006") is None
    trial = stack.temporal.get_workflow_handle(trial_workflow_id(PROTOCOL_V1.accrual.trial_identifier, queue))
    assert (await trial.describe()).status is WorkflowExecutionStatus.TERMINATED
    assert stack.store.last_sequence("TK-006") == 0
    await enrolled_again_and_seen(stack, "TK-006")


async def test_a_journey_that_began_but_waits_for_the_record_is_not_stopped(stack: Stack, tmp_path: Path) -> None:
    """Its worker's record has no tables (say, a database not migrated): the append is retried, the journey holds the
    enrollment, and the caller is told to look again rather than to enroll again."""
    unmigrated = EventStore(f"sqlite:///{tmp_path / 'unmigrated.db'}")
    task_queue = f"unmigrated-{uuid.uuid4()}"
    try:
        async with journey_worker(stack.temporal, unmigrated, task_queue=task_queue, seal_keys=stack.seal_keys):
            client = TrialClient(
                stack.temporal,
                stack.store,
                task_queue=task_queue,
                seal_keys=stack.seal_keys,
                enrollment_taken_within=SHORT_WAIT,
            )
            with pytest.raises(EnrollmentNotTaken) as not_yet:
                await client.enroll(enrollment("TK-005"))
            assert not_yet.value.begun and "look again with `trial status TK-005`" in not_yet.value.message
            assert await status_of_workflow(stack, "TK-005") is WorkflowExecutionStatus.RUNNING
            await stack.temporal.get_workflow_handle(journey_workflow_id("TK-005")).terminate(reason="test over")
    finally:
        unmigrated.close()


async def test_the_wait_tells_the_time_skipping_server_from_a_temporal_server(
    stack: Stack, time_skipping_env: WorkflowEnvironment
) -> None:
    """The time-skipping server holds a long poll of a running history, and its clock with it: the wait reads that
    server's histories plainly and long-polls only a Temporal server."""
    assert await server_skips_time(time_skipping_env.client)
    assert not await server_skips_time(stack.temporal)
