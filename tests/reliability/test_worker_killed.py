"""Journey worker processes killed with SIGKILL mid-journey, on a dev server with persistent storage and the trial
record on PostgreSQL (as several workers share it in production): a new or a surviving worker carries every journey
on, and the record loses and duplicates nothing.

Where the kill lands is chosen, not left to chance, by a table lock that holds the record's writers at one point:
after the events are written but before the activity reports (the retry must find them, not write them again), or
before they are written (the retry must write them).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy.engine import URL
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import WorkflowUpdateHandle, WorkflowUpdateStage

from config.journey_ids import journey_workflow_id
from domain.journey import commands as cmd
from tests.facade.journeys import to_apheresis
from tests.reliability.histories import ActivityRun, append_of, pending_activity
from tests.reliability.patients import apheresis, release_product, site_today
from tests.reliability.record_checks import assert_nothing_lost_or_duplicated
from tests.reliability.record_locks import postgres_tables_locked
from tests.reliability.stack import FaultStack, fault_stack
from tests.waiting import eventually
from workflows.journey_messages import RecordResult
from workflows.patient_journey import ACTIVITY_TIMEOUT, HEARTBEAT_TIMEOUT, PatientJourneyWorkflow

# A command whose worker died is answered once Temporal gives its work to another worker: after the sticky queue's
# schedule-to-start timeout (10 s) for a workflow task, after the append's heartbeat timeout (5 s, not its 30 s
# start-to-close) for an append that was running. This bounds a hang; it is not a claim about speed.
ANSWERED_WITHIN = timedelta(minutes=2)
SCREENED_ON = site_today() - timedelta(days=30)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory, record_database: URL) -> AsyncIterator[FaultStack]:
    async with fault_stack(tmp_path_factory.mktemp("worker-killed"), record_database) as stack:
        yield stack


async def accepted_update(
    stack: FaultStack, study_id: str, command: cmd.StaffCommand
) -> WorkflowUpdateHandle[RecordResult]:
    """Send a command and return as soon as the workflow has accepted it (validated, now being applied)."""
    handle = stack.temporal.get_workflow_handle(journey_workflow_id(study_id))
    return await handle.start_update(
        PatientJourneyWorkflow.record, command, id=str(uuid.uuid4()), wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )


async def answer(stack: FaultStack, study_id: str, update: WorkflowUpdateHandle[RecordResult]) -> RecordResult:
    result = await asyncio.wait_for(update.result(), timeout=ANSWERED_WITHIN.total_seconds())
    stack.trial.accepted[study_id].append(result)
    return result


async def test_a_worker_killed_between_writing_a_command_and_reporting_it_loses_and_duplicates_nothing(
    stack: FaultStack,
) -> None:
    first = stack.worker("worker-1")
    await first.start()
    await to_apheresis(stack.trial, "KW-101", SCREENED_ON)
    await to_apheresis(stack.trial, "KW-102", SCREENED_ON)

    # KW-101: its apheresis accepted and written to the record, and the worker killed before it could report that:
    # the projections rebuilt after each append wait on a lock meanwhile.
    written_before = await asyncio.to_thread(stack.store.last_sequence, "KW-101")
    with postgres_tables_locked(stack.record_url, "patient_summaries"):
        update = await accepted_update(stack, "KW-101", apheresis(SCREENED_ON + timedelta(days=1)))
        await eventually(lambda: recorded_through(stack, "KW-101", written_before + 1), "the apheresis recorded")
        first.kill()
        killed_at = time.monotonic()
        await first.wait_killed()
    # KW-102: a command sent while no worker is alive waits for one.
    waiting = asyncio.create_task(stack.trial.record("KW-102", apheresis(SCREENED_ON + timedelta(days=2))))
    second = stack.worker("worker-2")
    await second.start()
    [collected] = (await answer(stack, "KW-101", update)).events
    await asyncio.wait_for(waiting, timeout=ANSWERED_WITHIN.total_seconds())

    print(f"KW-101 answered {time.monotonic() - killed_at:.1f} s after its worker was killed")
    assert collected.type == "apheresis_collected"
    # The append's heartbeats stopped with the killed worker; it was retried by the new one, and found the events
    # already there.
    append = await append_of(stack.temporal, "KW-101", collected.sequence)
    assert append.attempts >= 2 and append.worker_identity == second.identity, append
    assert_retried_after_its_heartbeats_stopped(append)
    written = append.append_result()
    assert (written.recorded, written.already_recorded) == (0, 1)
    for study_id in ("KW-101", "KW-102"):
        await assert_nothing_lost_or_duplicated(stack.temporal, stack.store, study_id, stack.trial.accepted[study_id])
        await later_step(stack, study_id)
        await assert_nothing_lost_or_duplicated(stack.temporal, stack.store, study_id, stack.trial.accepted[study_id])
    assert await second.stop() == 0


async def test_with_two_workers_the_survivor_takes_over_when_one_is_killed(stack: FaultStack) -> None:
    workers = [stack.worker("worker-a"), stack.worker("worker-b")]
    await asyncio.gather(*(worker.start() for worker in workers))
    patients = [f"TW-20{n}" for n in range(1, 5)]
    for study_id in patients:
        await to_apheresis(stack.trial, study_id, SCREENED_ON)

    # Every patient's apheresis accepted, and its append held running, not yet written, on one worker or the other
    # by a lock on the record's events: the worker killed then has appends in hand it will never finish or report.
    with postgres_tables_locked(stack.record_url, "trial_events"):
        updates = {
            study_id: await accepted_update(stack, study_id, apheresis(SCREENED_ON + timedelta(days=1)))
            for study_id in patients
        }
        running_on = {study_id: await append_running_on(stack, study_id) for study_id in patients}
        victim = next(worker for worker in workers if worker.identity in running_on.values())
        survivor = next(worker for worker in workers if worker is not victim)
        victim.kill()
        killed_at = time.monotonic()
        await victim.wait_killed()
    orphaned = [study_id for study_id, identity in running_on.items() if identity == victim.identity]

    # The survivor keeps taking commands while the killed worker's work waits for its timeouts: a new patient, and
    # the next step of a patient whose append it was running (if the lock held any there).
    await to_apheresis(stack.trial, "TW-205", SCREENED_ON)
    served = [study_id for study_id in patients if study_id not in orphaned]
    for study_id in served:
        await answer(stack, study_id, updates[study_id])
    if served:
        await later_step(stack, served[0])
    for study_id in orphaned:
        await answer(stack, study_id, updates[study_id])
    print(
        f"{victim.name} killed holding the appends of {orphaned}; {survivor.name} answered them all within "
        f"{time.monotonic() - killed_at:.1f} s"
    )

    for study_id in orphaned:  # the killed worker's appends: their heartbeats stopped, then the survivor retried them
        [collected] = stack.trial.accepted[study_id][-1].events
        append = await append_of(stack.temporal, study_id, collected.sequence)
        assert append.attempts >= 2 and append.worker_identity == survivor.identity, append
        assert_retried_after_its_heartbeats_stopped(append)
        written = append.append_result()
        assert (written.recorded, written.already_recorded) == (1, 0)  # the killed attempt never wrote
    for study_id in [*patients, "TW-205"]:
        await assert_nothing_lost_or_duplicated(stack.temporal, stack.store, study_id, stack.trial.accepted[study_id])
    await later_step(stack, orphaned[0])
    await assert_nothing_lost_or_duplicated(stack.temporal, stack.store, orphaned[0], stack.trial.accepted[orphaned[0]])
    assert await survivor.stop() == 0


def assert_retried_after_its_heartbeats_stopped(append: ActivityRun) -> None:
    """The append was given up on when its heartbeats stopped (the worker was dead), not when its start-to-close
    timeout ran out: staff are answered within seconds once another worker is up."""
    assert (append.heartbeat_timeout, append.start_to_close_timeout) == (HEARTBEAT_TIMEOUT, ACTIVITY_TIMEOUT), append
    assert HEARTBEAT_TIMEOUT < ACTIVITY_TIMEOUT
    assert "Heartbeat" in append.last_failure, append


async def append_running_on(stack: FaultStack, study_id: str) -> str:
    """The identity of the worker running the journey's pending append (once one has taken it)."""

    async def started() -> str:
        append = await pending_activity(stack.temporal, study_id, "append_events")
        assert append.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED, append
        return append.last_worker_identity

    return await eventually(started, f"{study_id}'s append running on a worker", within_seconds=20)


async def later_step(stack: FaultStack, study_id: str) -> None:
    """The next step of a journey after the fault, accepted and recorded."""
    released = release_product(stack.trial, study_id, SCREENED_ON + timedelta(days=20))
    await asyncio.wait_for(released, timeout=ANSWERED_WITHIN.total_seconds())


async def recorded_through(stack: FaultStack, study_id: str, sequence: int) -> None:
    last = await asyncio.to_thread(stack.store.last_sequence, study_id)
    assert last >= sequence, f"{study_id}: recorded through {last}, not {sequence} yet"
