"""The one verdict every fault test reaches: the permanent trial record and the workflow's own timeline hold the
same events, sequences 1..n with no gap and no duplicate, the hash chain intact, and every command a client saw
accepted is in the record exactly once, as it was answered."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable

from temporalio.client import Client

from config.journey_ids import journey_workflow_id
from records import EventStore, RecordedEvent
from records.event_rows import to_row
from workflows.journey_messages import RecordResult
from workflows.patient_journey import PatientJourneyWorkflow


def _timeline_view(event: RecordedEvent) -> tuple[object, ...]:
    return (
        event.sequence,
        event.event_type,
        event.occurred_at,
        event.actor_user_id,
        event.actor_role,
        event.reason,
    )


async def assert_nothing_lost_or_duplicated(
    client: Client, store: EventStore, study_id: str, accepted: Iterable[RecordResult] = ()
) -> list[RecordedEvent]:
    """Compare the record with the running workflow (asked directly, never through the record) and with the
    answers of `accepted` commands; returns the recorded events."""
    recorded = await asyncio.to_thread(store.events_for, study_id)
    stored = await asyncio.to_thread(store.stored_events_for, study_id)
    sequences = [event.sequence for event in recorded]

    assert sequences == list(range(1, len(recorded) + 1)), f"{study_id}: sequences not 1..n: {sequences}"
    assert len(stored) == len(recorded), f"{study_id}: {len(stored)} rows for {len(recorded)} sequences"
    # The same fact written twice under two sequences (a command applied twice) would show here.
    facts = Counter((event.event_type, event.payload_json) for event in recorded)
    assert not [fact for fact, count in facts.items() if count > 1], f"{study_id}: a fact recorded twice: {facts}"
    verification = await asyncio.to_thread(store.verify, study_id)
    assert verification.ok, verification.describe()

    handle = client.get_workflow_handle(journey_workflow_id(study_id))
    timeline = await handle.query(PatientJourneyWorkflow.timeline)
    workflow_view = [(e.sequence, e.type, e.occurred_at, e.actor_user_id, e.actor_role, e.reason) for e in timeline]
    assert workflow_view == [_timeline_view(event) for event in recorded], (
        f"{study_id}: the workflow's timeline and the trial record differ:\n"
        f"  workflow: {[(v[0], v[1]) for v in workflow_view]}\n"
        f"  record:   {[(v.sequence, v.event_type) for v in recorded]}"
    )

    answered = [event for result in accepted for event in result.events]
    answered_sequences = [event.sequence for event in answered]
    assert len(set(answered_sequences)) == len(answered_sequences), f"{study_id}: two answers share a sequence"
    for event in answered:
        assert event.sequence <= len(recorded), f"{study_id}: accepted event {event.sequence} is not recorded"
        as_recorded = recorded[event.sequence - 1]
        assert as_recorded.content() == to_row(event).content(), (
            f"{study_id}: event {event.sequence} differs from the command's answer"
        )
    return recorded
