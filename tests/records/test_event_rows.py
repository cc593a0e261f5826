"""The mapper between domain events and stored rows: a journey's events survive the round trip unchanged."""

from __future__ import annotations

from domain.journey.events import Event
from records.event_rows import to_event, to_row
from tests.domain.journey_driver import JourneyDriver
from workflows.journey_messages import timeline_entry


def infused_journey() -> list[Event]:
    journey = JourneyDriver()
    journey.to_follow_up()
    return journey.events


def test_every_event_reads_back_as_the_same_fact() -> None:
    events = infused_journey()
    assert [to_event(to_row(event)) for event in events] == events


def test_a_row_spells_the_envelope_flat() -> None:
    event = infused_journey()[0]
    row = to_row(event)
    assert (row.event_type, row.actor_user_id, row.actor_role) == (
        event.type,
        event.actor.user_id,
        "research_coordinator",
    )
    assert row.payload == event.payload.model_dump(mode="json")


def test_the_timeline_reads_the_same_from_the_event_and_from_its_row() -> None:
    for event in infused_journey():
        assert timeline_entry(to_event(to_row(event))) == timeline_entry(event)
