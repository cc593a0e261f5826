"""The slot calendar in the record, on SQLite and PostgreSQL: concurrent consents never share a slot (the loser
takes the next one), a retried booking books nothing new, and a failed manufacture frees its slot."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from domain.protocol import PROTOCOL_V1
from domain.slots import BookingStatus, SlotBooking, SlotCapacity, earliest_free_slot, products_in_manufacturing
from records import EventStore
from records import slot_bookings as slot_bookings_module
from records.schema import slot_bookings
from records.slot_bookings import SlotBookingError, SlotCalendar
from tests.records.conftest import RECORDED_AT, FixedClock

CAPACITY = SlotCapacity.of(PROTOCOL_V1.manufacturing)
MONDAY = date(2026, 12, 7)


def calendar(store: EventStore, clock: FixedClock) -> SlotCalendar:
    return SlotCalendar(store.engine, CAPACITY, clock=clock)


def test_two_concurrent_consents_for_one_free_slot_take_it_and_the_next(store: EventStore, clock: FixedClock) -> None:
    slots = calendar(store, clock)
    # Only Wednesday's slot is left this week: Monday's is taken.
    slots.book("TF-0001", 1, MONDAY)
    start = threading.Barrier(2)
    booked: dict[str, SlotBooking] = {}
    errors: list[BaseException] = []

    def consent(study_id: str) -> None:
        try:
            start.wait()
            booked[study_id] = slots.book(study_id, 1, MONDAY)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=consent, args=(study_id,)) for study_id in ("TF-0002", "TF-0003")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    taken = sorted((b.week, b.slot_number) for b in booked.values())
    assert taken == [(MONDAY, 2), (MONDAY + timedelta(weeks=1), 1)]  # one took the free slot, the other the next
    assert len(slots.bookings()) == 3


def test_a_booking_that_lost_the_race_books_the_next_slot(
    store: EventStore, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots = calendar(store, clock)
    winner = slots.book("TF-0001", 1, MONDAY)
    # The loser read the calendar before the winner committed: it sees it empty once, and its insert hits the index.
    read_held = slot_bookings_module._held_from
    stale = iter([[]])
    monkeypatch.setattr(
        slot_bookings_module,
        "_held_from",
        lambda connection, not_before: next(stale, None) or read_held(connection, not_before),
    )
    loser = slots.book("TF-0002", 1, MONDAY)
    assert (winner.slot_number, loser.slot_number) == (1, 2)


def test_the_index_refuses_a_second_live_booking_of_a_slot(store: EventStore, clock: FixedClock) -> None:
    booking = calendar(store, clock).book("TF-0001", 1, MONDAY)
    row = {name: getattr(booking, name) for name in ("week", "slot_number", "collection_date", "expected_release")}
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(
            insert(slot_bookings).values(
                study_id="TF-0002", collection_number=1, status="booked", booked_at=RECORDED_AT, **row
            )
        )
    # A cancelled booking gives its slot back: the index only covers live ones.
    with store.engine.begin() as connection:
        connection.execute(
            insert(slot_bookings).values(
                study_id="TF-0003", collection_number=1, status="cancelled", booked_at=RECORDED_AT, **row
            )
        )


def test_a_retried_booking_books_nothing_new(store: EventStore, clock: FixedClock) -> None:
    slots = calendar(store, clock)
    first = slots.book("TF-0001", 1, MONDAY)
    assert slots.book("TF-0001", 1, MONDAY + timedelta(days=30)) == first
    assert slots.bookings() == [first]


def test_a_failed_manufacture_frees_its_slot_and_a_re_collection_is_booked(
    store: EventStore, clock: FixedClock
) -> None:
    slots = calendar(store, clock)
    for number in range(1, 4):
        slots.book(f"TF-000{number}", 1, MONDAY)
    # Three products in manufacturing: the next collection waits until the first release (the 21st).
    assert slots.book("TF-0004", 1, MONDAY).collection_date == date(2026, 12, 21)
    failed = slots.end_manufacturing("TF-0001", 1, BookingStatus.FAILED, date(2026, 12, 10))
    assert failed.status is BookingStatus.FAILED
    assert slots.end_manufacturing("TF-0001", 1, BookingStatus.FAILED, date(2026, 12, 11)) == failed  # a retry
    recollection = slots.book("TF-0001", 2, date(2026, 12, 10))
    assert recollection.collection_date == date(2026, 12, 16)  # the freed manufacturing slot makes room
    assert [b.collection_number for b in slots.bookings("TF-0001")] == [1, 2]
    with pytest.raises(SlotBookingError, match="already failed"):
        slots.end_manufacturing("TF-0001", 1, BookingStatus.RELEASED, date(2026, 12, 19))
    with pytest.raises(SlotBookingError, match="TF-0009 has no booking for collection 1"):
        slots.end_manufacturing("TF-0009", 1, BookingStatus.RELEASED, date(2026, 12, 19))


def test_concurrent_bookings_in_different_weeks_never_overfill_manufacturing(
    store: EventStore, clock: FixedClock
) -> None:
    # No index spans weeks: the serialized booking alone keeps one product at a time here.
    one_at_a_time = SlotCapacity(collections_per_week=2, max_products_in_manufacturing=1, manufacturing_days=12)
    slots = SlotCalendar(store.engine, one_at_a_time, clock=clock)
    start = threading.Barrier(4)

    def consent(study_id: str, weeks_later: int) -> None:
        start.wait()
        slots.book(study_id, 1, MONDAY + timedelta(weeks=weeks_later))

    threads = [threading.Thread(target=consent, args=(f"TF-010{n}", n % 2)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    booked = slots.bookings()
    assert len(booked) == 4
    for day in range(120):
        assert products_in_manufacturing(booked, MONDAY + timedelta(days=day)) <= 1


def test_a_patient_leaving_the_study_gives_back_their_live_slots(store: EventStore, clock: FixedClock) -> None:
    slots = calendar(store, clock)
    released = slots.book("TF-0001", 1, MONDAY)
    slots.end_manufacturing("TF-0001", 1, BookingStatus.RELEASED, date(2026, 12, 19))
    slots.book("TF-0002", 1, MONDAY)
    [cancelled] = slots.cancel("TF-0002")
    assert cancelled.status is BookingStatus.CANCELLED
    assert slots.cancel("TF-0002") == [] and slots.cancel("TF-0001") == []  # again, or only released: nothing
    assert slots.book("TF-0003", 1, MONDAY).slot_number == 2  # TF-0002's Wednesday slot is free again
    assert [b.status for b in slots.bookings("TF-0001")] == [BookingStatus.RELEASED] and released.slot_number == 1


def test_a_product_from_a_collection_before_the_booked_day_gives_the_booking_back(
    store: EventStore, clock: FixedClock
) -> None:
    slots = calendar(store, clock)
    booked = slots.book("TF-0001", 1, MONDAY + timedelta(days=1))  # Wednesday the 9th
    # Collected on the 7th anyway and released on the 8th: the booked Wednesday was never used.
    ended = slots.end_manufacturing("TF-0001", 1, BookingStatus.RELEASED, date(2026, 12, 8))
    assert ended.status is BookingStatus.CANCELLED
    assert slots.end_manufacturing("TF-0001", 1, BookingStatus.RELEASED, date(2026, 12, 8)) == ended  # a retry
    assert slots.book("TF-0002", 1, MONDAY + timedelta(days=1)).collection_date == booked.collection_date


def test_a_booking_reads_only_what_can_meet_its_slot_and_books_as_if_it_read_the_whole_calendar(
    store: EventStore, clock: FixedClock
) -> None:
    """Released products from past weeks are not read (the calendar grows with the trial); a product still in
    manufacturing from an earlier week still holds its place."""
    slots = calendar(store, clock)
    for n in range(6):  # two a week over three weeks, each released when expected
        booked = slots.book(f"TF-{n + 1:04d}", 1, MONDAY - timedelta(weeks=6 - n // 2))
        slots.end_manufacturing(booked.study_id, 1, BookingStatus.RELEASED, booked.expected_release)
    running = slots.book("TF-0100", 1, MONDAY - timedelta(days=5))  # in manufacturing past MONDAY
    with store.engine.connect() as connection:
        held = slot_bookings_module._held_from(connection, MONDAY)
        every = slot_bookings_module._all(connection)
    assert [b.study_id for b in held] == [running.study_id] and len(every) == 7
    booked = slots.book("TF-0200", 1, MONDAY)
    assert booked.collection_date == earliest_free_slot(every, MONDAY, CAPACITY).collection_date
