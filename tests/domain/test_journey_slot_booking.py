"""The slot booked for a collection is a fact in the patient's chain: its status shows the expected release."""

from __future__ import annotations

from datetime import date, timedelta

from domain.journey import commands as cmd
from domain.journey.views import patient_status
from domain.roles import SYSTEM_ACTOR
from tests.domain.journey_driver import JourneyDriver

MONDAY = date(2026, 1, 12)


def booking(collection_number: int = 1, collection_date: date = MONDAY) -> cmd.RecordSlotBooking:
    return cmd.RecordSlotBooking(
        actor=SYSTEM_ACTOR,
        collection_number=collection_number,
        week=collection_date - timedelta(days=collection_date.weekday()),
        slot_number=1,
        collection_date=collection_date,
        expected_release=collection_date + timedelta(days=12),
    )


def test_the_booked_slot_and_expected_release_show_in_the_status() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert (status.collection_booked_on, status.expected_release) == (None, None)
    journey.do(booking())
    assert journey.types()[-1] == "slot_booked"
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert (status.collection_booked_on, status.expected_release) == (MONDAY, MONDAY + timedelta(days=12))


def test_a_booking_is_refused_out_of_phase_out_of_turn_twice_or_from_staff() -> None:
    at_consent = JourneyDriver()
    at_consent.to_consent()
    assert any("record a slot booking" in reason for reason in at_consent.refused(booking(), sign=False))
    journey = JourneyDriver("TF-002")
    journey.to_apheresis()
    assert "the next collection is number 1, not 2" in journey.refused(booking(collection_number=2), sign=False)
    journey.do(booking())
    assert "collection 1 already has its slot" in journey.refused(booking(), sign=False)
    # Only the workflow itself books.
    staff = booking().model_copy(update={"actor": journey.events[-2].actor})
    assert any("cannot record slot booking" in reason for reason in journey.refused(staff, sign=False))
