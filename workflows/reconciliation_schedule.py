"""The Temporal Schedule that runs ReconciliationWorkflow every `RECONCILIATION_INTERVAL`, made sure of at every
worker start: created when missing, brought up to date when its interval or task queue changed, left alone (paused
or not, as an operator left it) otherwise. Several workers starting at once agree on one schedule.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError

from config.journey_ids import TASK_QUEUE
from workflows.reconciliation import RECONCILIATION_INTERVAL, ReconciliationInput, ReconciliationWorkflow

RECONCILIATION_SCHEDULE_ID = "trialflow-reconciliation"
# The schedule appends each run's start time to this id.
RECONCILIATION_WORKFLOW_ID = "trialflow-reconciliation"
_UPDATE_ATTEMPTS = 3  # another worker may update it at the same moment: its conflict token then changes


def reconciliation_schedule(task_queue: str = TASK_QUEUE, interval: timedelta = RECONCILIATION_INTERVAL) -> Schedule:
    """Every `interval`; a run still going when the next is due makes that one skip (one check at a time, and each
    run is bounded by the interval, so a stuck one cannot hold up the next)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconciliationWorkflow.run,
            ReconciliationInput(),
            id=RECONCILIATION_WORKFLOW_ID,
            task_queue=task_queue,
            execution_timeout=interval,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=interval),
        state=ScheduleState(note="trialflow: compares each journey with the trial record, alerts supervisors"),
    )


def is_up_to_date(description: ScheduleDescription, wanted: Schedule) -> bool:
    """Whether the schedule runs the same workflow, on the same task queue, as often as `wanted`."""
    action, want = description.schedule.action, wanted.action
    assert isinstance(want, ScheduleActionStartWorkflow)
    return (
        isinstance(action, ScheduleActionStartWorkflow)
        and action.workflow == want.workflow
        and action.task_queue == want.task_queue
        and action.id == want.id
        and [i.every for i in description.schedule.spec.intervals] == [i.every for i in wanted.spec.intervals]
    )


async def ensure_reconciliation_schedule(
    client: Client, task_queue: str = TASK_QUEUE, interval: timedelta = RECONCILIATION_INTERVAL
) -> ScheduleHandle:
    """The reconciliation schedule, created or brought up to date; calling it again changes nothing."""
    wanted = reconciliation_schedule(task_queue, interval)
    try:
        return await client.create_schedule(RECONCILIATION_SCHEDULE_ID, wanted)
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(RECONCILIATION_SCHEDULE_ID)

    def updated(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        if is_up_to_date(current.description, wanted):
            return None
        # Keep what an operator set: paused or not, and their note.
        return ScheduleUpdate(schedule=dataclasses.replace(wanted, state=current.description.schedule.state))

    for attempt in range(1, _UPDATE_ATTEMPTS + 1):
        try:
            await handle.update(updated)
            break
        except RPCError:
            if attempt == _UPDATE_ATTEMPTS:
                raise
    return handle
