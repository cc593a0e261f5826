"""Two consents at once through the trial client, with one free slot at the head of the calendar: one takes it, the
other the next slot, never both (the calendar serializes bookings; records/slot_bookings.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial

from domain.journey import commands as cmd
from domain.protocol import PROTOCOL_V1
from domain.site_time import site_date, site_moment
from domain.slots import SlotCapacity, book, earliest_free_slot
from records.slot_bookings import SlotCalendar
from simulation.journey_steps import STAFF_HOUR, Milestone, PathPatient, path_to, send
from tests.facade.journeys import RULES, enrollment, today
from tests.servers import Stack

STUDIES = ("TF-1541", "TF-1542")


async def test_two_concurrent_consents_for_one_free_slot_take_it_and_the_next(stack: Stack) -> None:
    trial = stack.trial
    screened_on = today() - timedelta(days=7)
    consents: list[tuple[str, cmd.RecordConsent]] = []
    for study_id in STUDIES:
        await trial.enroll(enrollment(study_id, screened_on))
        enrolled_at = site_moment(screened_on, STAFF_HOUR, RULES)
        *before, consent = path_to(Milestone.CONSENTED, PathPatient(study_id=study_id), enrolled_at, PROTOCOL_V1)
        assert isinstance(consent.command, cmd.RecordConsent)
        await send(before, partial(trial.record, study_id))
        consents.append((study_id, consent.command))

    capacity = SlotCapacity.of(PROTOCOL_V1.manufacturing)
    calendar = SlotCalendar(stack.store.engine, capacity)
    held = calendar.bookings()
    # A journey books from its consent's day or the site's calendar day, whichever is later: in the site's small hours
    # that is the day after today()'s staff day.
    signed_on = max(consent.guardian_consent_signed_on for _, consent in consents)
    not_before = max(signed_on, site_date(datetime.now(UTC), RULES))
    free = earliest_free_slot(held, not_before, capacity)  # the one free slot at the head of the calendar
    after_it = earliest_free_slot([*held, book("TF-0000", 1, free)], not_before, capacity)

    # Both updates in flight at once: each journey books in its own activity, on the worker's thread pool.
    await asyncio.gather(*(trial.record(study_id, consent) for study_id, consent in consents))

    booked = {study_id: calendar.bookings(study_id) for study_id in STUDIES}
    assert all(len(bookings) == 1 for bookings in booked.values()), booked
    slots = sorted((b.collection_date, b.week, b.slot_number) for [b] in booked.values())
    assert slots == sorted(
        [
            (free.collection_date, free.week, free.slot_number),
            (after_it.collection_date, after_it.week, after_it.slot_number),
        ]
    )
    for study_id, [booking] in booked.items():
        status = await trial.status(study_id)
        assert (status.collection_booked_on, status.expected_release) == (
            booking.collection_date,
            booking.expected_release,
        )
