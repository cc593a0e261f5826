"""Waiting until a workflow has nothing in flight (no workflow task, no activity), and its pending timers, read from
its newest run's history: describe does not tell it on every server. And whether a client's server is the
time-skipping test server, whose clock these waits protect."""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf.empty_pb2 import Empty
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

# What opens and closes work in flight, as a run's history shows it.
_TASK_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}
_ACTIVITY_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}
SETTLE_TIMEOUT = timedelta(minutes=2)
_SKIPS_TIME: weakref.WeakKeyDictionary[Client, bool] = weakref.WeakKeyDictionary()


async def work_in_flight(client: Client, workflow_id: str) -> str | None:
    """What the workflow's newest run is doing right now (a workflow task, an activity), or None when it only waits."""
    return in_flight(await client.get_workflow_handle(workflow_id).fetch_history())


def in_flight(history: WorkflowHistory) -> str | None:
    """What the run whose `history` this is was doing when it was read, or None when it only waited."""
    open_activities: set[int] = set()
    open_updates: set[str] = set()  # accepted, not yet answered: its handler still runs
    task_open = False  # a workflow task scheduled and not yet closed: the events of activities that ended meanwhile
    # are written after its scheduling, so it is not always the last event
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            task_open = True
        elif event.event_type in _TASK_CLOSED:
            task_open = False
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            open_activities.add(event.event_id)
        elif (attributes := _ACTIVITY_CLOSED.get(event.event_type)) is not None:
            open_activities.discard(getattr(event, attributes).scheduled_event_id)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            open_updates.add(event.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            open_updates.discard(event.workflow_execution_update_completed_event_attributes.meta.update_id)
    last = history.events[-1].event_type if history.events else None
    if task_open:
        return "a workflow task"
    if last == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        return "a new run being started"  # read a moment later, the history is the new run's
    if last == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        # A run continued as new gets its first task a moment after its start; until then, describe shows no task
        # pending and the run no timer yet.
        return "its first workflow task"
    if open_updates:
        # A staff step still being applied (its handler waits for the lock or for the run to hand over to a new
        # one): the run may have no timer set yet.
        return f"{len(open_updates)} updates"
    return f"{len(open_activities)} activities" if open_activities else None


async def settle(client: Client, workflow_id: str, give_up_after: timedelta = SETTLE_TIMEOUT) -> None:
    """Wait until the workflow has nothing in flight: before a query on the time-skipping server, or before a test
    reads a run's timers. Raises TimeoutError after `give_up_after`, which only bounds a hang."""
    # On the time-skipping server, a query arriving while a run continues as new leaves the old run's hold on the
    # clock, so time never skips again; its describe shows no pending workflow task, so the history is read instead.
    deadline = time.monotonic() + give_up_after.total_seconds()
    while (doing := await work_in_flight(client, workflow_id)) is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{workflow_id} still has {doing} in flight after {give_up_after}")
        await asyncio.sleep(0.02)


@dataclass(frozen=True)
class PendingTimer:
    timer_id: str
    fires_at: datetime


def pending_timers(history: WorkflowHistory) -> dict[str, PendingTimer]:
    """The run's timers started and neither fired nor cancelled, by timer id."""
    started: dict[str, PendingTimer] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            attributes = event.timer_started_event_attributes
            fires_at = event.event_time.ToDatetime(tzinfo=UTC) + attributes.start_to_fire_timeout.ToTimedelta()
            started[attributes.timer_id] = PendingTimer(attributes.timer_id, fires_at)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            started.pop(event.timer_fired_event_attributes.timer_id, None)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            started.pop(event.timer_canceled_event_attributes.timer_id, None)
    return started


async def server_skips_time(temporal: Client) -> bool:
    """Whether the client's server is the time-skipping test server: only it serves Temporal's test service (asked
    once per client)."""
    if temporal not in _SKIPS_TIME:
        try:
            await temporal.test_service.get_current_time(Empty())
            _SKIPS_TIME[temporal] = True
        except RPCError as error:
            if error.status is not RPCStatusCode.UNIMPLEMENTED:
                raise
            _SKIPS_TIME[temporal] = False
    return _SKIPS_TIME[temporal]
