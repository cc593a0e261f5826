"""The slot booked for a collection is a fact in the patient's chain: its status shows the expected release."""

from __future__ import annotations

from datetime import date, timedelta

from domain.journey import commands as cmd
from domain.journey.notifications import Topic, Urgency, notifications_for
from domain.journey.views import patient_status
from domain.roles import SYSTEM_ACTOR, Role
from domain.slots import SEARCH_WEEKS, NoSlotReason
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


def no_slot(collection_number: int = 1) -> cmd.RecordSlotUnavailable:
    return cmd.RecordSlotUnavailable(
        actor=SYSTEM_ACTOR,
        collection_number=collection_number,
        reason=NoSlotReason.NO_COLLECTION_SLOT,
        searched_from=MONDAY,
        searched_weeks=SEARCH_WEEKS,
    )


def test_a_booked_slot_tells_the_apheresis_unit_the_day_and_the_expected_release() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    journey.do(booking())
    [notice] = notifications_for(journey.events[-1])
    assert (notice.role, notice.urgency, notice.topic) == (Role.APHERESIS_UNIT, Urgency.ROUTINE, Topic.SLOT_BOOKED)
    assert notice.subject == f"{journey.state.study_id}: apheresis booked for 2026-01-12"
    assert "expected release is 2026-01-24" in notice.body


def test_no_slot_is_a_fact_the_status_explains_and_the_supervisors_hear_at_once() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    journey.do(no_slot())
    assert journey.types()[-1] == "slot_not_booked"
    because = patient_status(journey.state, journey.protocol, journey.now).slot_not_booked_because
    assert because == (
        "no slot booked: every apheresis collection slot is taken for 52 weeks from 2026-01-12; "
        "agree a collection day with the cell lab"
    )
    [alert] = notifications_for(journey.events[-1])
    assert (alert.role, alert.urgency, alert.topic) == (Role.SUPERVISOR, Urgency.IMMEDIATE, Topic.NO_SLOT)
    assert because in alert.body
    # A slot booked later (a cancellation freed one) ends the explanation.
    journey.do(booking())
    assert patient_status(journey.state, journey.protocol, journey.now).slot_not_booked_because is None


def test_no_slot_is_refused_out_of_phase_out_of_turn_once_booked_or_from_staff() -> None:
    at_consent = JourneyDriver()
    at_consent.to_consent()
    assert any("record that no slot could be booked" in r for r in at_consent.refused(no_slot(), sign=False))
    journey = JourneyDriver("TF-002")
    journey.to_apheresis()
    assert "the next collection is number 1, not 2" in journey.refused(no_slot(collection_number=2), sign=False)
    journey.do(booking())
    assert "collection 1 already has its slot" in journey.refused(no_slot(), sign=False)
    staff = no_slot().model_copy(update={"actor": journey.events[-2].actor})
    assert any("cannot record slot unavailable" in reason for reason in journey.refused(staff, sign=False))
