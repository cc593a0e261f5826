"""An enrollment is answered once its journey has recorded it, never when Temporal merely accepted the start.

The journey appends its enrollment to the trial record before anything else: the answer comes when that append has
completed in the journey's history (the record holds the enrollment, and Temporal's history says so). The history is
long-polled: the server answers as each event is written, and no query asks the journey's busy worker (the poll and its
one-second queries held an enrollment 2 to 4 s under load, docs/performance.md).
A journey that fails before recording (a refused seal, a refused enrollment) is answered with its reason; one that has
not even begun in time (no worker, or a first workflow task that keeps failing) is stopped, so the study id is free
again and nothing is half-created: no started journey that can neither be seen nor enrolled again.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from config.journey_ids import APPEND_EVENTS_ACTIVITY
from config.settling import server_skips_time
from facade.errors import CommandRefused, EnrollmentNotTaken, TrialError
from observability.logging import get_logger
from security.command_seal import SEAL_REFUSED

# A worker records an enrollment in well under a second; this leaves room for a busy one and a slow database.
ENROLLMENT_TAKEN_WITHIN = timedelta(seconds=15)
# Plain reads of the history (completed_or_ended): on the time-skipping test server soon, then less often; beside a
# Temporal server's long poll only now and then, as a safety net.
FIRST_LOOK_SECONDS = 0.05
LONGEST_WAIT_SECONDS = 0.5
SAFETY_NET_SECONDS = 1.0

# How the run ended, read from its closing event (a completed run is a screen failure: recorded, then ended at once).
_ENDED_BY: dict[int, WorkflowExecutionStatus] = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: WorkflowExecutionStatus.COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: WorkflowExecutionStatus.FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: WorkflowExecutionStatus.TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: WorkflowExecutionStatus.CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: WorkflowExecutionStatus.TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: WorkflowExecutionStatus.CONTINUED_AS_NEW,
}

log = get_logger("facade.enrollment_taken")

Handle = WorkflowHandle[Any, Any]


async def await_enrollment_recorded(temporal: Client, handle: Handle, study_id: str, within: timedelta) -> None:
    """Return once the journey of `study_id` (the run `handle` started) has recorded its enrollment. Raise
    CommandRefused when it ended without recording it; EnrollmentNotTaken when it has not recorded it `within` this
    time (stopped first, unless it has begun: then it records the enrollment as soon as the record takes it, and the
    study id stays its own)."""
    seconds = within.total_seconds()
    try:
        async with asyncio.timeout(seconds):
            ended = await completed_or_ended(temporal, handle, APPEND_EVENTS_ACTIVITY)
    except TimeoutError:
        pass
    else:
        if ended is None or ended is WorkflowExecutionStatus.COMPLETED:
            return
        raise await _why_it_ended(handle, study_id, ended)
    if (await _described(temporal, handle)).pending_activities:
        # It has begun (its append is under way, the record slow or away): it will record the enrollment.
        log.warning("enrollment_not_yet_recorded", study_id=study_id, seconds=seconds)
        raise EnrollmentNotTaken(study_id, seconds, begun=True)
    await _stop(handle, study_id, within)
    raise EnrollmentNotTaken(study_id, seconds)


async def completed_or_ended(temporal: Client, handle: Handle, activity_type: str) -> WorkflowExecutionStatus | None:
    """Follow the run's history as it is written: None once an activity of `activity_type` has completed (for the
    journey's append: the enrollment is in the record), else how the run ended before that.

    A Temporal server answers a long poll as each event is written; plain reads now and then stand beside it as a
    safety net. The time-skipping test server holds a long poll of a running history until the run closes, and its
    clock with it (a later skip never returned in a full run): there, plain reads only."""
    if await server_skips_time(temporal):
        return await _read_now_and_then(handle, activity_type, FIRST_LOOK_SECONDS)
    readers = [
        asyncio.create_task(_long_polled(handle, activity_type)),
        asyncio.create_task(_read_now_and_then(handle, activity_type, SAFETY_NET_SECONDS)),
    ]
    try:
        done, _ = await asyncio.wait(readers, return_when=asyncio.FIRST_COMPLETED)
        return done.pop().result()
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


class _Reading:
    """One pass over a run's history, in order: decided at the activity's completion or at the run's end."""

    def __init__(self, activity_type: str) -> None:
        self._activity_type = activity_type
        self._scheduled: set[int] = set()  # the event ids of the activities of that type scheduled
        self.decided = False

    def read(self, event: HistoryEvent) -> WorkflowExecutionStatus | None:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if event.activity_task_scheduled_event_attributes.activity_type.name == self._activity_type:
                self._scheduled.add(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            self.decided = event.activity_task_completed_event_attributes.scheduled_event_id in self._scheduled
        elif event.event_type in _ENDED_BY:
            self.decided = True
            return _ENDED_BY[event.event_type]
        return None


async def _long_polled(handle: Handle, activity_type: str) -> WorkflowExecutionStatus | None:
    reading = _Reading(activity_type)
    async for event in handle.fetch_history_events(wait_new_event=True):
        ended = reading.read(event)
        if reading.decided:
            return ended
    # Its last page came without a token while the run is open (the time-skipping server's answer to a long poll,
    # at times): the plain reads decide.
    never: asyncio.Future[WorkflowExecutionStatus | None] = asyncio.get_running_loop().create_future()
    return await never


async def _read_now_and_then(handle: Handle, activity_type: str, first_look: float) -> WorkflowExecutionStatus | None:
    delay = first_look
    while True:
        await asyncio.sleep(delay)
        reading = _Reading(activity_type)
        async for event in handle.fetch_history_events():
            ended = reading.read(event)
            if reading.decided:
                return ended
        delay = max(min(delay * 2, LONGEST_WAIT_SECONDS), first_look)


async def _described(temporal: Client, handle: Handle) -> DescribeWorkflowExecutionResponse:
    """The journey's latest run as the server describes it, read raw: the SDK's reading fails on a search attribute
    the time-skipping test server keeps unset."""
    return await temporal.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=temporal.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )


async def _why_it_ended(handle: Handle, study_id: str, status: WorkflowExecutionStatus) -> TrialError:
    """The reason a journey ended before recording its enrollment, as a refusal naming it."""
    try:
        await handle.result(follow_runs=False)
    except WorkflowFailureError as failure:
        cause = failure.cause
        if isinstance(cause, ApplicationError) and cause.type == SEAL_REFUSED:
            return CommandRefused(study_id, [f"the journey refused the enrollment's seal: {cause.message}"])
        if isinstance(cause, ApplicationError) and cause.details:
            return CommandRefused(study_id, [str(reason) for reason in cause.details])
        return CommandRefused(study_id, [f"the journey ended before recording the enrollment: {cause or failure}"])
    return CommandRefused(study_id, [f"the journey ended ({status.name.lower()}) before recording the enrollment"])


async def _stop(handle: Handle, study_id: str, within: timedelta) -> None:
    """Terminate the journey that never began (a terminated journey's study id may be enrolled again)."""
    try:
        await handle.terminate(reason=f"the enrollment was not taken within {within.total_seconds():g} s")
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
    log.warning("enrollment_not_taken", study_id=study_id, seconds=within.total_seconds())
