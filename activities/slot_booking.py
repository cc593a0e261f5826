"""The journey's bookings in the site's slot calendar (records/slot_bookings.py): the earliest free collection slot
after consent or a failed manufacture, and the manufacturing slot freed at the product's release or failure.

Both are idempotent, so Temporal may retry them: a booking is keyed by (study id, collection number), and ending a
manufacture that already ended the same way changes nothing. The workflow then records the booking in the patient's
chain (`slot_booked`), so the record and the calendar agree, and a retried activity never books twice."""

from __future__ import annotations

from datetime import date
from typing import Literal

import structlog
from sqlalchemy.exc import SQLAlchemyError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeats import heartbeating
from domain.protocol import FrozenModel
from domain.slots import BookingStatus, CalendarFull, SlotBooking
from records.slot_bookings import SlotBookingError, SlotCalendar

# ApplicationError types the workflow sees.
CALENDAR_UNAVAILABLE = "SlotCalendarUnavailable"  # retried
# Not retried: the workflow records that no slot was booked (the status says why) and the supervisors are alerted.
CALENDAR_FULL = "SlotCalendarFull"

log = structlog.get_logger("trialflow.activities.slots")


class BookSlotInput(FrozenModel):
    study_id: str
    collection_number: int
    not_before: date


class EndManufacturingInput(FrozenModel):
    study_id: str
    collection_number: int
    outcome: Literal["released", "failed"]
    on: date


class SlotBookingActivities:
    def __init__(self, calendar: SlotCalendar) -> None:
        self._calendar = calendar

    @activity.defn(name="book_slot")
    @heartbeating
    def book_slot(self, request: BookSlotInput) -> SlotBooking:
        try:
            booking = self._calendar.book(request.study_id, request.collection_number, request.not_before)
        except CalendarFull as full:
            # The details name the capacity that ran out and the weeks searched, for the patient's status.
            raise ApplicationError(
                str(full), full.reason.value, full.weeks, type=CALENDAR_FULL, non_retryable=True
            ) from None
        except SQLAlchemyError as error:
            # Only the kind: the database's message may quote the statement's parameters.
            raise ApplicationError(
                f"the slot calendar is unavailable ({type(error).__name__}); retrying", type=CALENDAR_UNAVAILABLE
            ) from None
        log.info(
            "slot booked",
            study_id=booking.study_id,
            collection_number=booking.collection_number,
            collection_date=booking.collection_date.isoformat(),
        )
        return booking

    @activity.defn(name="cancel_slots")
    @heartbeating
    def cancel_slots(self, study_id: str) -> int:
        """The patient left the study: their live bookings are cancelled; how many were."""
        try:
            cancelled = self._calendar.cancel(study_id)
        except SQLAlchemyError as error:
            raise ApplicationError(
                f"the slot calendar is unavailable ({type(error).__name__}); retrying", type=CALENDAR_UNAVAILABLE
            ) from None
        log.info("slots cancelled", study_id=study_id, cancelled=len(cancelled))
        return len(cancelled)

    @activity.defn(name="end_manufacturing")
    @heartbeating
    def end_manufacturing(self, request: EndManufacturingInput) -> None:
        try:
            status = BookingStatus(request.outcome)
            self._calendar.end_manufacturing(request.study_id, request.collection_number, status, request.on)
        except SlotBookingError as problem:
            # A collection booked before the calendar existed has no booking: nothing to free.
            log.warning("manufacturing slot not freed", study_id=request.study_id, problem=str(problem))
        except SQLAlchemyError as error:
            raise ApplicationError(
                f"the slot calendar is unavailable ({type(error).__name__}); retrying", type=CALENDAR_UNAVAILABLE
            ) from None
