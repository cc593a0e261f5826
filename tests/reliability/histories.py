"""What Temporal's own history says about a journey: every run (followed across continue-as-new), the timers still
pending, and how many attempts each activity took (Temporal writes one ActivityTaskStarted, with the final attempt
number and the last failure, when an activity closes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import PayloadCodec

from activities.journey_activities import AppendEventsInput, AppendEventsResult
from config.journey_ids import journey_workflow_id


async def journey_runs(client: Client, study_id: str) -> list[WorkflowHistory]:
    """The history of every run of a journey, first to newest."""
    workflow_id = journey_workflow_id(study_id)
    description = await client.get_workflow_handle(workflow_id).describe()
    run_id: str | None = description.raw_description.workflow_execution_info.first_run_id
    runs = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        await decode_history(history, client.data_converter.payload_codec)
        runs.append(history)
        last = history.events[-1]
        continued = last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id if continued else None
    return runs


async def decode_history(history: WorkflowHistory, codec: PayloadCodec | None) -> None:
    """The activities' inputs, results and failures as the worker saw them, decrypted in place (the stack runs with
    payload encryption, as in production)."""
    if codec is None:
        return

    async def decode(payloads: Payloads) -> None:
        decoded = await codec.decode(list(payloads.payloads))
        del payloads.payloads[:]
        payloads.payloads.extend(decoded)

    for event in history.events:
        match event.event_type:
            case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                await decode(event.activity_task_scheduled_event_attributes.input)
            case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                await decode(event.activity_task_completed_event_attributes.result)
            case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                if event.activity_task_started_event_attributes.HasField("last_failure"):
                    await decode_failure(event.activity_task_started_event_attributes.last_failure, codec)
            case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
                await decode_failure(event.activity_task_failed_event_attributes.failure, codec)


async def decode_failure(failure: Failure, codec: PayloadCodec) -> None:
    """A failure's message back in place: an encrypting worker sends "Encoded failure" and the real message (and
    stack) in its encoded attributes."""
    await codec.decode_failure(failure)
    if failure.HasField("encoded_attributes"):
        attributes = pydantic_data_converter.payload_converter.from_payload(failure.encoded_attributes)
        if isinstance(attributes, dict) and "message" in attributes:
            failure.message = str(attributes["message"])


def fired_timers(history: WorkflowHistory) -> set[str]:
    return {
        event.timer_fired_event_attributes.timer_id
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_TIMER_FIRED
    }


@dataclass(frozen=True)
class ActivityRun:
    """One activity as the history closed it."""

    name: str
    attempts: int
    worker_identity: str  # the worker of the last attempt
    last_failure: str  # why the attempt before the last failed ("" if none)
    completed: bool
    result: Payloads | None  # what it returned, when completed
    input: Payloads
    start_to_close_timeout: timedelta  # as the workflow scheduled it
    heartbeat_timeout: timedelta

    def appended_sequences(self) -> list[int]:
        """The sequences an append_events activity was given to write."""
        assert self.name == "append_events", self
        [request] = pydantic_data_converter.payload_converter.from_payloads(
            list(self.input.payloads), [AppendEventsInput]
        )
        assert isinstance(request, AppendEventsInput)
        return [event.sequence for event in request.events]

    def append_result(self) -> AppendEventsResult:
        """An append_events activity's answer: how many events it wrote, how many the record already had."""
        assert self.name == "append_events" and self.result is not None, self
        [answer] = pydantic_data_converter.payload_converter.from_payloads(
            list(self.result.payloads), [AppendEventsResult]
        )
        assert isinstance(answer, AppendEventsResult)
        return answer


def activity_runs(history: WorkflowHistory, name: str | None = None) -> list[ActivityRun]:
    """Every closed activity (of type `name`, if given), in the order they were scheduled."""
    names: dict[int, str] = {}
    inputs: dict[int, Payloads] = {}
    timeouts: dict[int, tuple[timedelta, timedelta]] = {}
    started: dict[int, tuple[int, str, str]] = {}
    closed: dict[int, Payloads | None] = {}
    for event in history.events:
        match event.event_type:
            case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                names[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
                inputs[event.event_id] = event.activity_task_scheduled_event_attributes.input
                scheduled = event.activity_task_scheduled_event_attributes
                timeouts[event.event_id] = (
                    scheduled.start_to_close_timeout.ToTimedelta(),
                    scheduled.heartbeat_timeout.ToTimedelta(),
                )
            case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                start = event.activity_task_started_event_attributes
                failure = start.last_failure.message if start.HasField("last_failure") else ""
                started[start.scheduled_event_id] = (start.attempt, start.identity, failure)
            case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                completion = event.activity_task_completed_event_attributes
                closed[completion.scheduled_event_id] = completion.result
            case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
                closed[event.activity_task_failed_event_attributes.scheduled_event_id] = None
            case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
                closed[event.activity_task_timed_out_event_attributes.scheduled_event_id] = None
    runs = []
    for scheduled_id, result in sorted(closed.items()):
        attempts, identity, failure = started.get(scheduled_id, (0, "", ""))
        if name is None or names[scheduled_id] == name:
            runs.append(
                ActivityRun(
                    names[scheduled_id],
                    attempts,
                    identity,
                    failure,
                    result is not None,
                    result,
                    inputs[scheduled_id],
                    *timeouts[scheduled_id],
                )
            )
    return runs


async def append_of(client: Client, study_id: str, sequence: int) -> ActivityRun:
    """The append_events activity that carried event `sequence` of a journey, as its history closed it."""
    runs = [run for history in await journey_runs(client, study_id) for run in activity_runs(history)]
    [append] = [run for run in runs if run.name == "append_events" and sequence in run.appended_sequences()]
    return append


async def pending_activity(client: Client, study_id: str, name: str) -> PendingActivityInfo:
    """The journey's one pending activity of type `name` (fails if there is none, or more than one)."""
    description = await client.get_workflow_handle(journey_workflow_id(study_id)).describe()
    [pending] = [a for a in description.raw_description.pending_activities if a.activity_type.name == name]
    return pending
