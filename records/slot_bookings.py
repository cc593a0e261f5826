"""The manufacturing slot calendar in the trial record's database: bookings that are never doubled.

A booking reads the calendar and takes the earliest free slot (domain/slots.py) in one write transaction; bookings
are serialized (SQLite: BEGIN IMMEDIATE makes the booker the only writer; PostgreSQL: a transaction-scoped advisory
lock on the calendar), so the second of two concurrent bookings sees the first and takes the next slot. The unique
index on the live (week, slot number) is the backstop: were two bookings ever to race past the lock, the loser's
insert fails and it books again, seeing the winner. The manufacturing capacity spans weeks and no index can hold
it; the serialization does. A booking is keyed by (study id, collection number): a retried booking returns the one
already made, never a second.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from domain.slots import (
    BookingStatus,
    SlotBooking,
    SlotCapacity,
    book,
    earliest_free_slot,
    manufacturing_ended,
    week_of,
)
from records.engine import WRITE_TRANSACTION
from records.schema import slot_bookings as _table

# The PostgreSQL advisory lock key of the slot calendar (any fixed 64-bit number; patients lock hashes of their ids).
CALENDAR_LOCK_KEY: Final = 0x534C4F5453  # "SLOTS"
# A booking that lost a race on the unique index books again; more losses in a row than this mean something else
# is wrong (the lock is not held), and the error is raised.
MAX_BOOKING_ATTEMPTS: Final = 5

_COLUMNS = (
    "study_id",
    "collection_number",
    "week",
    "slot_number",
    "collection_date",
    "expected_release",
    "status",
    "manufacturing_ended",
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SlotBookingError(ValueError):
    """A booking cannot be changed as asked (unknown, or already ended otherwise)."""


class SlotCalendar:
    """Thread-safe (one engine, a connection per call); each booking is one write transaction."""

    def __init__(self, engine: Engine, capacity: SlotCapacity, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_TRANSACTION: True})
        self._capacity = capacity
        self._clock = clock

    @property
    def capacity(self) -> SlotCapacity:
        return self._capacity

    def book(self, study_id: str, collection_number: int, not_before: date) -> SlotBooking:
        """The earliest free slot on or after `not_before`, booked for this collection; or the booking it already
        has (a retry books nothing new, whatever `not_before` it gives)."""
        for attempt in range(1, MAX_BOOKING_ATTEMPTS + 1):
            try:
                return self._book(study_id, collection_number, not_before)
            except IntegrityError:
                if attempt == MAX_BOOKING_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _book(self, study_id: str, collection_number: int, not_before: date) -> SlotBooking:
        with self._writer.begin() as connection:
            self._lock_calendar(connection)
            existing = _read(connection, study_id, collection_number)
            if existing is not None:
                return existing
            held = _held_from(connection, not_before)
            booking = book(study_id, collection_number, earliest_free_slot(held, not_before, self._capacity))
            connection.execute(insert(_table).values(**_row(booking), booked_at=self._clock()))
            return booking

    def end_manufacturing(self, study_id: str, collection_number: int, status: BookingStatus, on: date) -> SlotBooking:
        """The product was released, or its manufacture failed, on `on`: its manufacturing slot is free again.
        Idempotent: ending it again the same way returns the booking as it is."""
        with self._writer.begin() as connection:
            self._lock_calendar(connection)
            booking = _read(connection, study_id, collection_number)
            if booking is None:
                raise SlotBookingError(f"{study_id} has no booking for collection {collection_number}")
            if booking.status in (status, BookingStatus.CANCELLED):
                return booking  # a retry, or a booking the patient never used
            try:
                ended = manufacturing_ended(booking, status, on)
            except ValueError as error:
                raise SlotBookingError(f"{study_id}, collection {collection_number}: {error}") from None
            values = {"status": ended.status.value, "manufacturing_ended": ended.manufacturing_ended}
            connection.execute(update(_table).where(_is(study_id, collection_number)).values(**values))
            return ended

    def cancel(self, study_id: str) -> list[SlotBooking]:
        """The patient left the study: every booking still live (collection or manufacturing to come) is cancelled,
        its collection and manufacturing slots free again. Idempotent: returns what it cancelled (none the second
        time)."""
        with self._writer.begin() as connection:
            self._lock_calendar(connection)
            live = [b for b in _all(connection) if b.study_id == study_id and b.status is BookingStatus.BOOKED]
            for booking in live:
                cancelled = {"status": BookingStatus.CANCELLED.value}
                connection.execute(update(_table).where(_is(study_id, booking.collection_number)).values(**cancelled))
            return [b.model_copy(update={"status": BookingStatus.CANCELLED}) for b in live]

    def bookings(self, study_id: str | None = None) -> list[SlotBooking]:
        """Every booking (or one patient's), by collection date."""
        with self._engine.connect() as connection:
            return [b for b in _all(connection) if study_id is None or b.study_id == study_id]

    def _lock_calendar(self, connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CALENDAR_LOCK_KEY})
        # SQLite: BEGIN IMMEDIATE already made this the only writer of the whole database.


def _is(study_id: str, collection_number: int) -> Any:
    return and_(_table.c.study_id == study_id, _table.c.collection_number == collection_number)


def _row(booking: SlotBooking) -> dict[str, object]:
    row = booking.model_dump(include=set(_COLUMNS))
    row["status"] = booking.status.value
    return row


def _booking(row: Any) -> SlotBooking:
    return SlotBooking.model_validate(dict(zip(_COLUMNS, row, strict=True)))


def _read(connection: Connection, study_id: str, collection_number: int) -> SlotBooking | None:
    columns = [_table.c[name] for name in _COLUMNS]
    row = connection.execute(select(*columns).where(_is(study_id, collection_number))).first()
    return _booking(row) if row is not None else None


def _held_from(connection: Connection, not_before: date) -> list[SlotBooking]:
    """The bookings a slot on or after `not_before` can meet: those collected in its week or later, and those whose
    product is (or is expected to be) in manufacturing after it. The others cannot take a slot from it
    (domain/slots.earliest_free_slot), and reading them made every booking slower as the trial grew."""
    columns = [_table.c[name] for name in _COLUMNS]
    ends = func.coalesce(_table.c.manufacturing_ended, _table.c.expected_release)
    query = select(*columns).where(
        _table.c.status != BookingStatus.CANCELLED.value,
        or_(_table.c.week >= week_of(not_before), ends > not_before),
    )
    return [_booking(row) for row in connection.execute(query)]


def _all(connection: Connection) -> list[SlotBooking]:
    columns = [_table.c[name] for name in _COLUMNS]
    query = select(*columns).order_by(_table.c.collection_date, _table.c.slot_number, _table.c.study_id)
    return [_booking(row) for row in connection.execute(query)]
