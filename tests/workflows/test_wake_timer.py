"""A journey keeps its wake timer across the steps that leave its next wake where it was, and starts a new one only
when the moment moves (workflows/wake_timer.py): before, every step started a timer and cancelled the last."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio.api.history.v1 import HistoryEvent
from temporalio.testing import WorkflowEnvironment

from records import EventStore
from tests.workflows.journey_client import JourneyClient

Env = tuple[WorkflowEnvironment, EventStore, str]


def fires_at(event: HistoryEvent) -> datetime:
    started = event.timer_started_event_attributes
    return event.event_time.ToDatetime() + started.start_to_fire_timeout.ToTimedelta()


async def test_steps_that_leave_the_next_wake_where_it_was_keep_its_timer(journey_env: Env) -> None:
    temporal, _, task_queue = journey_env
    journey = JourneyClient(temporal.client, task_queue, "TF-161", env=temporal)
    steps = await journey.entered_late()  # all sent now: most leave the wake unmoved
    await journey.settled()

    events = (await journey.handle.fetch_history()).events
    started = [e for e in events if e.HasField("timer_started_event_attributes")]
    cancelled = [e for e in events if e.HasField("timer_canceled_event_attributes")]
    moments = [fires_at(e) for e in started]
    print(f"{steps} steps: {len(started)} timers started, {len(cancelled)} cancelled, for {moments}")
    # The enrollment's wake (the run's age limit), then the one the last dose moves it to: the infusion window.
    assert len(started) == 2 and len(cancelled) == 1
    assert moments[1] - moments[0] < -timedelta(days=365)
    await journey.stop()
