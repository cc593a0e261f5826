"""On the time-skipping server: consent books the earliest free slot and the status shows its expected release; a
failed manufacture frees its slot and books the re-collection; a release frees the manufacturing slot."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from domain.journey import commands as cmd
from domain.protocol import CURRENT_PROTOCOL
from domain.slots import BookingStatus, SlotCapacity
from records import EventStore
from records.slot_bookings import SlotCalendar
from tests.domain.journey_driver import APHERESIS, CELL_LAB, INVESTIGATOR
from tests.workflows.journey_client import JourneyClient

Env = tuple[WorkflowEnvironment, EventStore, str]


async def test_consent_books_a_slot_and_a_failure_frees_it_and_books_the_re_collection(journey_env: Env) -> None:
    temporal, store, task_queue = journey_env
    journey = JourneyClient(temporal.client, task_queue, "TF-150", env=temporal)
    await journey.start()
    today = await journey.today()
    await journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))
    consent = cmd.RecordConsent(
        actor=INVESTIGATOR, guardian_consent_signed_on=today, consent_form_version="v2", child_assent_obtained=True
    )
    await journey.do(consent)

    calendar = SlotCalendar(store.engine, SlotCapacity.of(CURRENT_PROTOCOL.manufacturing))
    [first] = calendar.bookings("TF-150")
    assert first.collection_date >= today and first.status is BookingStatus.BOOKED
    status = await journey.status()
    assert (status.collection_booked_on, status.expected_release) == (first.collection_date, first.expected_release)
    assert first.expected_release == first.collection_date + timedelta(days=12)
    assert store.events_for("TF-150")[-1].event_type == "slot_booked"  # in the patient's chain

    await journey.move_to(first.collection_date)
    await journey.do(cmd.RecordApheresis(actor=APHERESIS, collected_on=first.collection_date))
    failed_on = await journey.today()
    await journey.do(cmd.RecordManufacturingFailure(actor=CELL_LAB, failed_on=failed_on, reason="out of spec"))

    failed, second = calendar.bookings("TF-150")
    assert (failed.collection_number, failed.status, failed.manufacturing_ended) == (1, BookingStatus.FAILED, failed_on)
    assert second.collection_number == 2 and second.status is BookingStatus.BOOKED
    status = await journey.status()
    assert (status.collection_booked_on, status.expected_release) == (second.collection_date, second.expected_release)
    await journey.stop()


async def test_withdrawing_consent_gives_back_the_booked_slot(journey_env: Env) -> None:
    temporal, store, task_queue = journey_env
    journey = JourneyClient(temporal.client, task_queue, "TF-151", env=temporal)
    await journey.start()
    today = await journey.today()
    await journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))
    consent = cmd.RecordConsent(
        actor=INVESTIGATOR, guardian_consent_signed_on=today, consent_form_version="v2", child_assent_obtained=True
    )
    await journey.do(consent)
    calendar = SlotCalendar(store.engine, SlotCapacity.of(CURRENT_PROTOCOL.manufacturing))
    assert [b.status for b in calendar.bookings("TF-151")] == [BookingStatus.BOOKED]
    await journey.do(cmd.WithdrawConsent(actor=INVESTIGATOR, withdrawn_on=today, reason="family decision"))
    assert [b.status for b in calendar.bookings("TF-151")] == [BookingStatus.CANCELLED]
    await journey.stop()
