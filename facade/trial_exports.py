"""The whole trial record read for the standard exports (exports/): every patient's events by study id, as the
domain's facts, from the record (never the workflows: ended journeys are in it too)."""

from __future__ import annotations

from domain.journey.events import Event
from records import EventStore
from records.event_rows import to_event


def trial_record(store: EventStore) -> dict[str, list[Event]]:
    return {study_id: [to_event(row) for row in store.events_for(study_id)] for study_id in store.study_ids()}
