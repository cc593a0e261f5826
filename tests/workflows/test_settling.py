"""What a run has in flight, read from its history (config/settling.py): the tests and the demo wait on it before they
read a run's timers or skip the time-skipping server's clock."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from config.settling import in_flight

E = EventType


def history(*events: HistoryEvent) -> WorkflowHistory:
    for number, event in enumerate(events, start=1):
        event.event_id = number
    return WorkflowHistory("TF-0001", list(events))


def event(event_type: int) -> HistoryEvent:
    return HistoryEvent(event_type=event_type)  # type: ignore[arg-type]


def activity_closed(scheduled_event_id: int) -> HistoryEvent:
    closed = event(E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    closed.activity_task_completed_event_attributes.scheduled_event_id = scheduled_event_id
    return closed


def update(event_type: int, update_id: str) -> HistoryEvent:
    written = event(event_type)
    if event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        written.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id = update_id
    else:
        written.workflow_execution_update_completed_event_attributes.meta.update_id = update_id
    return written


STARTED_AND_DECIDED = (
    event(E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
    event(E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
    event(E.EVENT_TYPE_WORKFLOW_TASK_STARTED),
    event(E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
)


def test_a_run_waiting_on_its_timer_has_nothing_in_flight() -> None:
    assert in_flight(history(*STARTED_AND_DECIDED, event(E.EVENT_TYPE_TIMER_STARTED))) is None


def test_a_workflow_task_scheduled_before_the_last_activity_ended_is_still_in_flight() -> None:
    """An activity's start and completion are written when it completes, after a workflow task a sibling's completion
    scheduled: the last event is the activity's, and the task still to run (seen in a full run: a test read the run's
    timers there and found none)."""
    read = history(
        *STARTED_AND_DECIDED,  # events 1-4
        event(E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),  # 5
        event(E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),  # 6
        event(E.EVENT_TYPE_ACTIVITY_TASK_STARTED),
        activity_closed(5),
        event(E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        event(E.EVENT_TYPE_ACTIVITY_TASK_STARTED),
        activity_closed(6),
    )
    assert in_flight(read) == "a workflow task"


def test_a_step_accepted_and_not_yet_answered_is_in_flight_until_its_answer() -> None:
    accepted = (*STARTED_AND_DECIDED, update(E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, "step-1"))
    assert in_flight(history(*accepted)) == "1 updates"
    answered = (
        *accepted,
        event(E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        event(E.EVENT_TYPE_WORKFLOW_TASK_STARTED),
        event(E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        update(E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED, "step-1"),
        event(E.EVENT_TYPE_TIMER_STARTED),
    )
    assert in_flight(history(*answered)) is None
