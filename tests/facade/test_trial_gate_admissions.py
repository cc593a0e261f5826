"""Enrollments sent at once ask the one TrialWorkflow for admission a few updates at a time: Temporal refuses more than
10 updates in flight on one workflow (ResourceExhausted), so the gate queues the rest instead of failing them, and
sends those that waited together, in one update (Temporal runs one workflow's updates one after another)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any, cast

from temporalio.client import Client, WorkflowExecutionStatus

from config.journey_ids import trial_workflow_id
from domain.protocol import PROTOCOL_V1
from facade import TrialClient
from facade.trial_gate import ADMISSIONS_IN_FLIGHT, TrialGate
from tests.facade.journeys import enrollment
from tests.servers import Stack
from workers.worker import journey_worker
from workflows.trial_messages import AdmissionBatch, AdmissionResult, AdmissionResults

ENROLLMENTS_AT_ONCE = 3 * ADMISSIONS_IN_FLIGHT
SERVER_UPDATES_IN_FLIGHT_LIMIT = 10  # Temporal's default per-workflow limit the gate stays below


class HeldTrial:
    """A TrialWorkflow handle whose admissions wait until released, counting how many are in flight at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.updates = 0
        self.admitted: list[str] = []
        self.release = asyncio.Event()

    async def start_workflow(self, *args: Any, **kwargs: Any) -> HeldTrial:
        return self

    def get_workflow_handle_for(self, *args: Any, **kwargs: Any) -> HeldTrial:
        return self

    async def execute_update(self, update: Any, batch: AdmissionBatch, **kwargs: Any) -> AdmissionResults:
        self.updates += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        self.admitted += batch.study_ids
        return AdmissionResults(results=tuple(AdmissionResult(study_id=s, admitted=True) for s in batch.study_ids))


async def settle() -> None:
    """Let every admission task run until it waits (on the gate's bound or on the held trial)."""
    for _ in range(10 * ENROLLMENTS_AT_ONCE):
        await asyncio.sleep(0)


async def test_admissions_sent_at_once_stay_below_the_servers_in_flight_limit_and_all_are_answered() -> None:
    trial = HeldTrial()
    gate = TrialGate(cast(Client, trial), PROTOCOL_V1, "admissions-test")
    study_ids = [f"TF-96{n:02d}" for n in range(ENROLLMENTS_AT_ONCE)]
    admissions = [asyncio.create_task(gate.admit(s, timedelta(seconds=30))) for s in study_ids]

    await settle()
    assert trial.in_flight == ADMISSIONS_IN_FLIGHT < SERVER_UPDATES_IN_FLIGHT_LIMIT
    assert not any(task.done() for task in admissions)  # the rest queue; none refused

    trial.release.set()
    await asyncio.gather(*admissions)
    assert sorted(trial.admitted) == study_ids
    assert trial.most_in_flight == ADMISSIONS_IN_FLIGHT
    # The first ADMISSIONS_IN_FLIGHT left alone; the rest waited and left together in the next update.
    assert trial.updates == ADMISSIONS_IN_FLIGHT + 1


async def test_an_admission_after_the_trial_was_stopped_starts_it_again_and_is_answered(stack: Stack) -> None:
    """The gate keeps the running trial once started; a trial stopped since (terminated by an operator, say) is
    started again at the next admission rather than failing every enrollment after it."""
    queue = f"admissions-{uuid.uuid4()}"
    async with journey_worker(stack.temporal, stack.store, task_queue=queue, seal_keys=stack.seal_keys):
        client = TrialClient(stack.temporal, stack.store, task_queue=queue, seal_keys=stack.seal_keys)
        await client.enroll(enrollment("TF-9701"))
        trial = stack.temporal.get_workflow_handle(trial_workflow_id(PROTOCOL_V1.accrual.trial_identifier, queue))
        stopped_run = (await trial.describe()).run_id
        await trial.terminate(reason="test: the trial stopped under the gate")

        await client.enroll(enrollment("TF-9702"))
        described = await trial.describe()
        assert described.status is WorkflowExecutionStatus.RUNNING and described.run_id != stopped_run
        assert (await client.trial_status()).admitted == 1  # TF-9702, in the trial's new run
