"""The manufacturing slot calendar: apheresis collections a week, products in manufacturing at once, release dates.

Pure rules over the bookings already made; the record (records/slot_bookings.py) keeps the bookings and makes sure
two concurrent bookings never take the same slot. A collection slot is a (week, slot number): slot k of a week is on
a fixed working day, the slots spread over Monday to Friday. A product is in manufacturing from its collection
date until its expected release (collection + the manufacturing days), or until it was released or failed sooner.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum

from pydantic import Field, model_validator

from domain.protocol import FrozenModel, ManufacturingRules

WORKING_DAYS_A_WEEK = 5  # collections are taken Monday to Friday
# How many weeks ahead the earliest free slot is looked for before saying the calendar is full: a year.
SEARCH_WEEKS = 52


class SlotCapacity(FrozenModel):
    """The site's capacity: its settings, or the protocol's defaults."""

    collections_per_week: int = Field(ge=1, le=WORKING_DAYS_A_WEEK)
    max_products_in_manufacturing: int = Field(ge=1)
    manufacturing_days: int = Field(ge=1)

    @classmethod
    def of(cls, rules: ManufacturingRules) -> SlotCapacity:
        return cls(
            collections_per_week=rules.collections_per_week,
            max_products_in_manufacturing=rules.max_products_in_manufacturing,
            manufacturing_days=rules.manufacturing_days,
        )


class BookingStatus(StrEnum):
    BOOKED = "booked"  # collection planned or product in manufacturing
    RELEASED = "released"  # product released: its manufacturing slot is free again
    FAILED = "failed"  # manufacture failed: its manufacturing slot is free again
    CANCELLED = "cancelled"  # freed before the collection: the collection slot is free again


class SlotBooking(FrozenModel):
    """One booked collection and the manufacturing of its product."""

    study_id: str = Field(min_length=1, max_length=32)
    collection_number: int = Field(ge=1)  # 1 for the first collection, 2 for a re-collection...
    week: date  # the Monday of the collection's week
    slot_number: int = Field(ge=1)
    collection_date: date
    expected_release: date
    status: BookingStatus = BookingStatus.BOOKED
    manufacturing_ended: date | None = None  # when released or failed

    @model_validator(mode="after")
    def _consistent(self) -> SlotBooking:
        problems = []
        if self.week.weekday() != 0:
            problems.append("the week must be given by its Monday")
        if not self.week <= self.collection_date < self.week + timedelta(days=7):
            problems.append("the collection date must be in its week")
        if self.expected_release <= self.collection_date:
            problems.append("the expected release must come after the collection")
        ended = self.status in (BookingStatus.RELEASED, BookingStatus.FAILED)
        if ended != (self.manufacturing_ended is not None):
            problems.append("a released or failed booking (and only one) says when its manufacturing ended")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def holds_collection_slot(self) -> bool:
        return self.status is not BookingStatus.CANCELLED

    def in_manufacturing_on(self, day: date) -> bool:
        """Whether this booking's product occupies a manufacturing slot on `day`."""
        if self.status is BookingStatus.CANCELLED:
            return False
        end = self.manufacturing_ended if self.manufacturing_ended is not None else self.expected_release
        return self.collection_date <= day < end


class FreeSlot(FrozenModel):
    week: date
    slot_number: int
    collection_date: date
    expected_release: date


class NoSlotReason(StrEnum):
    """Why the calendar had no slot for a collection within the weeks searched."""

    NO_COLLECTION_SLOT = "no_collection_slot"  # every apheresis slot of every week searched is taken
    NO_MANUFACTURING_SLOT = "no_manufacturing_slot"  # free collection slots, but manufacturing is full after each


class CalendarFull(ValueError):
    """No free slot within the weeks searched; `reason` says which capacity ran out."""

    def __init__(self, reason: NoSlotReason, not_before: date) -> None:
        self.reason = reason
        self.not_before = not_before
        self.weeks = SEARCH_WEEKS
        capacity = "apheresis collection" if reason is NoSlotReason.NO_COLLECTION_SLOT else "manufacturing"
        super().__init__(f"no free {capacity} slot within {SEARCH_WEEKS} weeks from {not_before.isoformat()}")


def no_slot_words(reason: NoSlotReason, searched_from: date, weeks: int) -> str:
    """Why no slot is booked, in words for staff (the status and the supervisors' alert say the same)."""
    if reason is NoSlotReason.NO_COLLECTION_SLOT:
        why = "every apheresis collection slot is taken"
    else:
        why = "manufacturing is full after every free apheresis collection slot"
    return (
        f"no slot booked: {why} for {weeks} weeks from {searched_from.isoformat()}; "
        "agree a collection day with the cell lab"
    )


def week_of(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


def collection_date(week: date, slot_number: int, capacity: SlotCapacity) -> date:
    """The working day of slot `slot_number` (1-based) in `week`: the slots spread over Monday to Friday."""
    if not 1 <= slot_number <= capacity.collections_per_week:
        raise ValueError(f"slot number must be 1 to {capacity.collections_per_week}, not {slot_number}")
    return week + timedelta(days=(slot_number - 1) * WORKING_DAYS_A_WEEK // capacity.collections_per_week)


def expected_release(collected: date, capacity: SlotCapacity) -> date:
    return collected + timedelta(days=capacity.manufacturing_days)


def products_in_manufacturing(bookings: Iterable[SlotBooking], day: date) -> int:
    return sum(1 for booking in bookings if booking.in_manufacturing_on(day))


def _manufacturing_fits(bookings: list[SlotBooking], collected: date, capacity: SlotCapacity) -> bool:
    """Whether one more product collected on `collected` keeps every day of its manufacturing within capacity."""
    days = (collected + timedelta(days=offset) for offset in range(capacity.manufacturing_days))
    return all(products_in_manufacturing(bookings, day) < capacity.max_products_in_manufacturing for day in days)


def earliest_free_slot(bookings: Iterable[SlotBooking], not_before: date, capacity: SlotCapacity) -> FreeSlot:
    """The earliest collection slot on or after `not_before` whose week has the slot free and whose product fits
    in manufacturing every day until its expected release. Raises CalendarFull if none within SEARCH_WEEKS."""
    held = list(bookings)
    taken = {(booking.week, booking.slot_number) for booking in held if booking.holds_collection_slot}
    first_week = week_of(not_before)
    collection_slot_free = False  # a free collection slot whose product would overfill manufacturing
    for week_index in range(SEARCH_WEEKS):
        week = first_week + timedelta(weeks=week_index)
        for slot_number in range(1, capacity.collections_per_week + 1):
            collected = collection_date(week, slot_number, capacity)
            if collected < not_before or (week, slot_number) in taken:
                continue
            collection_slot_free = True
            if _manufacturing_fits(held, collected, capacity):
                return FreeSlot(
                    week=week,
                    slot_number=slot_number,
                    collection_date=collected,
                    expected_release=expected_release(collected, capacity),
                )
    reason = NoSlotReason.NO_MANUFACTURING_SLOT if collection_slot_free else NoSlotReason.NO_COLLECTION_SLOT
    raise CalendarFull(reason, not_before)


def may_recollect(collection_number: int, rules: ManufacturingRules) -> bool:
    """Whether a failed manufacture of collection `collection_number` may book a re-collection."""
    return collection_number <= rules.max_recollections


def book(study_id: str, collection_number: int, slot: FreeSlot) -> SlotBooking:
    return SlotBooking(
        study_id=study_id,
        collection_number=collection_number,
        week=slot.week,
        slot_number=slot.slot_number,
        collection_date=slot.collection_date,
        expected_release=slot.expected_release,
    )


def manufacturing_ended(booking: SlotBooking, status: BookingStatus, on: date) -> SlotBooking:
    """The booking once its product was released or its manufacture failed on `on`: the manufacturing slot frees.
    Ended before its booked collection day, the booking was never used: cancelled."""
    if status not in (BookingStatus.RELEASED, BookingStatus.FAILED):
        raise ValueError(f"manufacturing ends by release or failure, not {status}")
    if booking.status is not BookingStatus.BOOKED:
        raise ValueError(f"the booking is already {booking.status}")
    if on < booking.collection_date:
        # The cells were collected before the booked day (staff took an earlier chance): the booked slot was never
        # used, and both its collection and manufacturing slots are free again.
        return booking.model_copy(update={"status": BookingStatus.CANCELLED})
    return booking.model_copy(update={"status": status, "manufacturing_ended": on})


class CalendarWeek(FrozenModel):
    week: date
    collections_booked: int
    collections_per_week: int
    bookings: tuple[SlotBooking, ...]


class SlotCalendarView(FrozenModel):
    """The calendar as staff read it (`trial slots`, GET /slots): from the current week on."""

    as_of: date
    capacity: SlotCapacity
    products_in_manufacturing: int  # on `as_of`
    weeks: tuple[CalendarWeek, ...]  # every week from the current one that holds a live booking
    expected_releases: tuple[SlotBooking, ...]  # products still to be released, by expected release


def calendar_view(bookings: Iterable[SlotBooking], capacity: SlotCapacity, as_of: date) -> SlotCalendarView:
    live = [b for b in bookings if b.holds_collection_slot]
    current = week_of(as_of)
    weeks: dict[date, list[SlotBooking]] = {}
    for booking in sorted(live, key=lambda b: (b.week, b.slot_number)):
        if booking.week >= current:
            weeks.setdefault(booking.week, []).append(booking)
    pending = sorted((b for b in live if b.status is BookingStatus.BOOKED), key=lambda b: b.expected_release)
    return SlotCalendarView(
        as_of=as_of,
        capacity=capacity,
        products_in_manufacturing=products_in_manufacturing(live, as_of),
        weeks=tuple(
            CalendarWeek(
                week=week,
                collections_booked=len(held),
                collections_per_week=capacity.collections_per_week,
                bookings=tuple(held),
            )
            for week, held in weeks.items()
        ),
        expected_releases=tuple(pending),
    )
