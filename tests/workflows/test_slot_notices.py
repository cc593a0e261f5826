"""On the time-skipping server: a booked slot is announced to the apheresis unit with the collection date and the
expected release; a calendar with no slot for the consented patient alerts the supervisors at once and the
patient's status says why no slot is booked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from domain.journey import commands as cmd
from domain.journey.notifications import Notification, Topic, Urgency
from domain.protocol import CURRENT_PROTOCOL
from domain.roles import Role
from domain.slots import SEARCH_WEEKS, SlotCapacity
from notifications import ChannelKind, Notifier
from records import EventStore
from records.deliveries import DeliveryLedger
from records.slot_bookings import SlotCalendar
from tests.domain.journey_driver import INVESTIGATOR
from tests.notifications.people import webhook_directory
from tests.waiting import poll
from tests.workflows.journey_client import JourneyClient
from tests.workflows.test_reconciliation import RecordingChannel
from workers.worker import journey_worker


@dataclass
class Site:
    env: WorkflowEnvironment
    store: EventStore
    channel: RecordingChannel
    task_queue: str
    calendar: SlotCalendar

    def journey(self, study_id: str) -> JourneyClient:
        return JourneyClient(self.env.client, self.task_queue, study_id, env=self.env)

    async def told(self, topic: Topic, count: int = 1) -> list[Notification]:
        async def sent() -> list[Notification] | None:
            found = [n for n, _ in self.channel.sent if n.topic is topic]
            return found if len(found) >= count else None

        return await poll(sent, f"{count} {topic.value} notification(s)")


SiteFactory = Callable[[SlotCapacity], AbstractAsyncContextManager[Site]]


@pytest_asyncio.fixture
async def site(own_time_skipping_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[SiteFactory]:
    """A worker on its own queue and record, with the slot capacity a test gives it, notifying a recording channel."""

    @asynccontextmanager
    async def running(capacity: SlotCapacity) -> AsyncIterator[Site]:
        store = EventStore(f"sqlite:///{tmp_path / f'record-{uuid.uuid4().hex[:8]}.db'}")
        store.migrate()
        channel = RecordingChannel()
        directory = webhook_directory(lambda role: f"https://hooks.example.org/{role.value}")
        notifier = Notifier(directory, DeliveryLedger(store.engine), {ChannelKind.WEBHOOK: channel})
        task_queue = f"slots-{uuid.uuid4()}"
        try:
            async with journey_worker(
                own_time_skipping_env.client, store, task_queue=task_queue, notifier=notifier, slot_capacity=capacity
            ):
                yield Site(own_time_skipping_env, store, channel, task_queue, SlotCalendar(store.engine, capacity))
        finally:
            notifier.close()
            store.close()

    yield running


async def consent(journey: JourneyClient) -> date:
    await journey.start()
    today = await journey.today()
    await journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))
    await journey.do(
        cmd.RecordConsent(
            actor=INVESTIGATOR, guardian_consent_signed_on=today, consent_form_version="v2", child_assent_obtained=True
        )
    )
    return today


async def test_a_booked_slot_tells_the_apheresis_unit_its_collection_day_and_expected_release(
    site: SiteFactory,
) -> None:
    async with site(SlotCapacity.of(CURRENT_PROTOCOL.manufacturing)) as running:
        journey = running.journey("TF-1531")
        try:
            await consent(journey)
            [booking] = running.calendar.bookings("TF-1531")
            [notice] = await running.told(Topic.SLOT_BOOKED)
            assert (notice.role, notice.urgency) == (Role.APHERESIS_UNIT, Urgency.ROUTINE)
            assert (notice.facts.on, notice.facts.expected_release, notice.facts.collection_number) == (
                booking.collection_date,
                booking.expected_release,
                1,
            )
            assert booking.collection_date.isoformat() in notice.subject
            assert booking.expected_release.isoformat() in notice.body
            assert (await journey.status()).slot_not_booked_because is None
            assert not [n for n, _ in running.channel.sent if n.topic is Topic.NO_SLOT]
        finally:
            await journey.stop()


async def test_no_free_slot_alerts_the_supervisors_at_once_and_the_status_says_why(site: SiteFactory) -> None:
    # One product at a time, each in manufacturing for over a year: one booking fills manufacturing for the horizon.
    tiny = SlotCapacity(collections_per_week=2, max_products_in_manufacturing=1, manufacturing_days=400)
    async with site(tiny) as running:
        journey = running.journey("TF-1532")
        try:
            running.calendar.book("TF-1533", 1, await journey.today())
            consented_on = await consent(journey)

            assert running.calendar.bookings("TF-1532") == []
            status = await journey.status()
            assert status.collection_booked_on is None and status.slot_not_booked_because is not None
            assert "manufacturing is full" in status.slot_not_booked_because
            assert f"for {SEARCH_WEEKS} weeks from {consented_on.isoformat()}" in status.slot_not_booked_because
            assert running.store.events_for("TF-1532")[-1].event_type == "slot_not_booked"  # in the patient's chain

            [alert] = await running.told(Topic.NO_SLOT)
            assert (alert.role, alert.urgency) == (Role.SUPERVISOR, Urgency.IMMEDIATE)
            assert (alert.facts.step, alert.facts.on, alert.facts.searched_weeks) == (
                "no_manufacturing_slot",
                consented_on,
                SEARCH_WEEKS,
            )
            assert "manufacturing is full" in alert.body and "TF-1532" in alert.subject
            assert not [n for n, _ in running.channel.sent if n.topic is Topic.SLOT_BOOKED]
        finally:
            await journey.stop()
