"""The slot calendar: the protocol's capacity, the earliest free slot, and freeing on release or failure."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.protocol import PROTOCOL_V1, ManufacturingRules
from domain.slots import (
    SEARCH_WEEKS,
    BookingStatus,
    CalendarFull,
    NoSlotReason,
    SlotBooking,
    SlotCapacity,
    book,
    calendar_view,
    collection_date,
    earliest_free_slot,
    manufacturing_ended,
    may_recollect,
    products_in_manufacturing,
    week_of,
)

DEFAULT = SlotCapacity.of(PROTOCOL_V1.manufacturing)
MONDAY = date(2026, 12, 7)


def book_next(bookings: list[SlotBooking], not_before: date, capacity: SlotCapacity = DEFAULT) -> SlotBooking:
    booking = book(f"TF-{len(bookings) + 1:04d}", 1, earliest_free_slot(bookings, not_before, capacity))
    bookings.append(booking)
    return booking


def test_the_protocol_defaults() -> None:
    numbers = (DEFAULT.collections_per_week, DEFAULT.max_products_in_manufacturing, DEFAULT.manufacturing_days)
    assert numbers == (2, 3, 12)
    assert PROTOCOL_V1.manufacturing.max_recollections == 1


def test_slots_spread_over_the_working_week() -> None:
    assert [collection_date(MONDAY, n, DEFAULT) for n in (1, 2)] == [MONDAY, MONDAY + timedelta(days=2)]
    five = DEFAULT.model_copy(update={"collections_per_week": 5})
    assert [collection_date(MONDAY, n, five).weekday() for n in range(1, 6)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="slot number must be 1 to 2"):
        collection_date(MONDAY, 3, DEFAULT)


def test_the_first_booking_takes_the_first_slot_on_or_after_the_day() -> None:
    slot = earliest_free_slot([], MONDAY, DEFAULT)
    assert (slot.week, slot.slot_number, slot.collection_date) == (MONDAY, 1, MONDAY)
    assert slot.expected_release == MONDAY + timedelta(days=12)
    # Tuesday: Monday's slot is past, Wednesday's is next.
    tuesday = earliest_free_slot([], MONDAY + timedelta(days=1), DEFAULT)
    assert (tuesday.slot_number, tuesday.collection_date) == (2, MONDAY + timedelta(days=2))
    # Saturday: next week's Monday.
    assert earliest_free_slot([], MONDAY + timedelta(days=5), DEFAULT).week == MONDAY + timedelta(weeks=1)


def test_two_collections_a_week_then_the_next_week() -> None:
    bookings: list[SlotBooking] = []
    first, second, third = (book_next(bookings, MONDAY) for _ in range(3))
    assert [(b.week, b.slot_number) for b in (first, second, third)] == [
        (MONDAY, 1),
        (MONDAY, 2),
        (MONDAY + timedelta(weeks=1), 1),
    ]


def test_a_fourth_product_waits_until_one_leaves_manufacturing() -> None:
    bookings: list[SlotBooking] = []
    for _ in range(3):
        book_next(bookings, MONDAY)
    # Mon 7, Wed 9, Mon 14 are in manufacturing until 19, 21 and 26: Wed 16 would make four at once on the 16th-18th.
    fourth = book_next(bookings, MONDAY)
    assert fourth.collection_date == date(2026, 12, 21)  # the first product's release on the 19th freed its slot
    assert fourth.slot_number == 1


def test_a_failure_frees_the_manufacturing_slot_and_a_release_too() -> None:
    bookings: list[SlotBooking] = []
    for _ in range(3):
        book_next(bookings, MONDAY)
    bookings[0] = manufacturing_ended(bookings[0], BookingStatus.FAILED, date(2026, 12, 10))
    assert products_in_manufacturing(bookings, date(2026, 12, 16)) == 2
    fourth = book_next(bookings, MONDAY)
    assert fourth.collection_date == date(2026, 12, 16)  # week 2, slot 2: manufacturing has room now
    assert bookings[0].holds_collection_slot  # the collection happened: its slot stays taken
    with pytest.raises(ValueError, match="already failed"):
        manufacturing_ended(bookings[0], BookingStatus.RELEASED, date(2026, 12, 19))
    with pytest.raises(ValueError, match="release or failure"):
        manufacturing_ended(bookings[1], BookingStatus.CANCELLED, date(2026, 12, 19))
    # Ended before the booked collection day: collected earlier than booked, so the booking was never used.
    unused = manufacturing_ended(bookings[1], BookingStatus.RELEASED, date(2026, 12, 1))
    assert unused.status is BookingStatus.CANCELLED and not unused.holds_collection_slot


def test_a_cancelled_booking_frees_its_collection_slot() -> None:
    bookings: list[SlotBooking] = []
    book_next(bookings, MONDAY)
    bookings[0] = bookings[0].model_copy(update={"status": BookingStatus.CANCELLED})
    assert book_next(bookings, MONDAY).slot_number == 1


def test_re_collection_is_allowed_once_by_default() -> None:
    rules = PROTOCOL_V1.manufacturing
    assert may_recollect(1, rules)
    assert not may_recollect(2, rules)
    assert not may_recollect(1, ManufacturingRules(max_recollections=0))


def test_a_full_calendar_says_so() -> None:
    tiny = SlotCapacity(collections_per_week=1, max_products_in_manufacturing=1, manufacturing_days=400)
    with pytest.raises(CalendarFull, match="no free manufacturing slot within 52 weeks") as full:
        earliest_free_slot([book("TF-0001", 1, earliest_free_slot([], MONDAY, tiny))], MONDAY, tiny)
    assert (full.value.reason, full.value.not_before, full.value.weeks) == (
        NoSlotReason.NO_MANUFACTURING_SLOT,
        MONDAY,
        SEARCH_WEEKS,
    )


def test_a_calendar_without_a_free_collection_slot_says_which_capacity_ran_out() -> None:
    weekly = SlotCapacity(collections_per_week=1, max_products_in_manufacturing=99, manufacturing_days=3)
    bookings: list[SlotBooking] = []
    for number in range(SEARCH_WEEKS):
        bookings.append(book(f"TF-{number:04d}", 1, earliest_free_slot(bookings, MONDAY, weekly)))
    with pytest.raises(CalendarFull, match="no free apheresis collection slot within 52 weeks") as full:
        earliest_free_slot(bookings, MONDAY, weekly)
    assert full.value.reason is NoSlotReason.NO_COLLECTION_SLOT


def test_an_inconsistent_booking_is_refused_with_every_reason() -> None:
    with pytest.raises(ValidationError) as refused:
        SlotBooking(
            study_id="TF-0001",
            collection_number=1,
            week=MONDAY + timedelta(days=1),
            slot_number=1,
            collection_date=MONDAY + timedelta(days=20),
            expected_release=MONDAY,
            status=BookingStatus.RELEASED,
        )
    message = str(refused.value)
    for reason in ("by its Monday", "in its week", "after the collection", "says when its manufacturing ended"):
        assert reason in message


capacities = st.builds(
    SlotCapacity,
    collections_per_week=st.integers(1, 5),
    max_products_in_manufacturing=st.integers(1, 4),
    manufacturing_days=st.integers(1, 20),
)


@settings(max_examples=60, deadline=None)
@given(
    capacity=capacities,
    offsets=st.lists(st.integers(0, 30), min_size=1, max_size=12),
    failures=st.sets(st.integers(0, 11)),
)
def test_never_double_booked_and_the_earliest_slot_is_taken(
    capacity: SlotCapacity, offsets: list[int], failures: set[int]
) -> None:
    bookings: list[SlotBooking] = []
    for index, offset in enumerate(offsets):
        not_before = MONDAY + timedelta(days=offset)
        booking = book_next(bookings, not_before, capacity)
        if index in failures:
            bookings[-1] = manufacturing_ended(booking, BookingStatus.FAILED, booking.collection_date)
        # Never two bookings in one collection slot; never more products in manufacturing than capacity.
        slots = [(b.week, b.slot_number) for b in bookings]
        assert len(slots) == len(set(slots))
        most = capacity.max_products_in_manufacturing
        for day in range(offset, offset + 80):
            assert products_in_manufacturing(bookings, MONDAY + timedelta(days=day)) <= most
        # Earliest: no free slot, on or after the day asked, before the one taken would have fitted.
        others = bookings[:-1]
        week = week_of(not_before)
        while week <= booking.week:
            for number in range(1, capacity.collections_per_week + 1):
                day = collection_date(week, number, capacity)
                if not_before <= day and (week, number) < (booking.week, booking.slot_number):
                    candidate = book("TF-X", 1, earliest_free_slot(others, day, capacity))
                    assert (candidate.week, candidate.slot_number) >= (booking.week, booking.slot_number)
            week += timedelta(weeks=1)


def test_the_calendar_view_shows_weeks_products_in_manufacturing_and_releases() -> None:
    bookings: list[SlotBooking] = []
    for _ in range(4):
        book_next(bookings, MONDAY)
    bookings[0] = manufacturing_ended(bookings[0], BookingStatus.RELEASED, date(2026, 12, 19))
    view = calendar_view(bookings, DEFAULT, date(2026, 12, 15))
    assert [(w.week, w.collections_booked, w.collections_per_week) for w in view.weeks] == [
        (MONDAY + timedelta(weeks=1), 1, 2),
        (MONDAY + timedelta(weeks=2), 1, 2),
    ]
    assert view.products_in_manufacturing == 3  # 7th, 9th and 14th collections, none released yet on the 15th
    assert [b.study_id for b in view.expected_releases] == ["TF-0002", "TF-0003", "TF-0004"]
