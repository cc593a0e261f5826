"""What a journey's steps leave in Temporal's history beyond their own work: the wake timer is kept across the steps
that leave the next wake where it was (workflows/wake_timer.py), and a new run records one patch marker for every
bundled patch (BUNDLED_PATCHES). Before, every step started a timer and cancelled the last, and each patch recorded
its own marker and search-attribute upsert."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from temporalio.api.history.v1 import HistoryEvent
from temporalio.testing import WorkflowEnvironment

from records import EventStore
from tests.workflows.journey_client import JourneyClient
from workflows.patient_journey import BUNDLED_PATCHES_PATCH

Env = tuple[WorkflowEnvironment, EventStore, str]
CHANGE_VERSION = "TemporalChangeVersion"  # the search attribute the SDK upserts with each patch marker


def fires_at(event: HistoryEvent) -> datetime:
    started = event.timer_started_event_attributes
    return event.event_time.ToDatetime() + started.start_to_fire_timeout.ToTimedelta()


async def walked_late(env: Env, study_id: str) -> tuple[int, list[HistoryEvent]]:
    """A journey sent its path to the last lymphodepletion dose at once, as a site entering its records late (and
    the benchmark) does: the steps sent, and its run's history."""
    temporal, _, task_queue = env
    journey = JourneyClient(temporal.client, task_queue, study_id, env=temporal)
    steps = await journey.entered_late()
    await journey.settled()
    events = list((await journey.handle.fetch_history()).events)
    await journey.stop()
    return steps, events


async def test_steps_that_leave_the_next_wake_where_it_was_keep_its_timer(journey_env: Env) -> None:
    steps, events = await walked_late(journey_env, "TF-171")
    started = [e for e in events if e.HasField("timer_started_event_attributes")]
    cancelled = [e for e in events if e.HasField("timer_canceled_event_attributes")]
    moments = [fires_at(e) for e in started]
    print(f"{steps} steps: {len(started)} timers started, {len(cancelled)} cancelled, for {moments}")
    # The enrollment's wake (the run's age limit), then the one the last dose moves it to: the infusion window.
    assert len(started) == 2 and len(cancelled) == 1
    assert moments[1] - moments[0] < -timedelta(days=365)


async def test_a_new_run_records_one_marker_for_the_bundled_patches(journey_env: Env) -> None:
    steps, events = await walked_late(journey_env, "TF-172")
    markers = [e.marker_recorded_event_attributes for e in events if e.HasField("marker_recorded_event_attributes")]
    patch_ids = [json.loads(m.details["patch-data"].payloads[0].data)["id"] for m in markers]
    change_versions = [
        e
        for e in events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
        and CHANGE_VERSION in e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    ]
    print(f"{steps} steps: patch markers {patch_ids}, {len(change_versions)} {CHANGE_VERSION} upserts")
    assert patch_ids == [BUNDLED_PATCHES_PATCH]
    assert len(change_versions) == 1
