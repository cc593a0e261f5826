"""Finding 8 through a journey on the time-skipping server: a day assessed, a day missed, the reminders sent, one
wake a site day, and the due and missed items in the status and the Overdue search attribute."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from config import search_attributes as sa
from domain.journey import commands as cmd
from domain.journey.daily_monitoring import is_daily_code
from domain.journey.notifications import Notification
from domain.protocol import PROTOCOL_V1
from notifications import ChannelKind, Notifier
from notifications.routing import PlannedDelivery
from records import EventStore
from records.deliveries import DeliveryLedger
from tests.domain.journey_driver import NURSE, crs_findings, icans_findings
from tests.notifications.people import webhook_directory
from tests.workflows.journey_client import JourneyClient, settle_then_terminate
from workers.worker import journey_worker
from workflows.patient_journey import PatientJourneyWorkflow

Env = tuple[WorkflowEnvironment, EventStore, str]
UNTIL = PROTOCOL_V1.safety.daily_toxicity_assessment_until_day


class RecordingChannel:
    """A webhook channel that keeps what it is given (the notifier and its ledger in front of it are the real ones)."""

    kind = ChannelKind.WEBHOOK

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification, delivery: PlannedDelivery) -> None:
        self.sent.append(notification)


@pytest_asyncio.fixture
async def notified_env(
    own_time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[Env, RecordingChannel, list[JourneyClient]]]:
    """A journey worker of its own whose notifier delivers to a recording channel; its journeys are ended after."""
    store = EventStore(f"sqlite:///{tmp_path / 'trial-record.db'}")
    store.migrate()
    channel = RecordingChannel()
    directory = webhook_directory(lambda role: f"https://hooks.example.org/{role.value}")
    notifier = Notifier(directory, DeliveryLedger(store.engine), {ChannelKind.WEBHOOK: channel})
    task_queue = f"daily-monitoring-{uuid.uuid4()}"
    journeys: list[JourneyClient] = []
    async with journey_worker(own_time_skipping_env.client, store, task_queue=task_queue, notifier=notifier):
        try:
            yield (own_time_skipping_env, store, task_queue), channel, journeys
        finally:  # a journey left waiting with no worker would hold the shared clock still
            for journey in journeys:
                await settle_then_terminate(own_time_skipping_env.client, journey.handle)
    store.close()


def _daily(store: EventStore, study_id: str) -> list[tuple[str, int, tuple[str, ...]]]:
    found = []
    for e in store.events_for(study_id):
        if e.event_type == "daily_assessments_due":
            found.append((e.event_type, e.payload["day_number"], tuple(e.payload["assessments"])))
        elif e.event_type == "daily_assessment_missed":
            found.append((e.event_type, e.payload["day_number"], (e.payload["assessment"],)))
    return found


async def test_a_day_assessed_a_day_missed_and_the_reminders_sent(
    notified_env: tuple[Env, RecordingChannel, list[JourneyClient]],
) -> None:
    (temporal, store, task_queue), channel, journeys = notified_env
    journey = JourneyClient(temporal.client, task_queue, "TF-1620", env=temporal)
    journeys.append(journey)
    await journey.to_infusion()
    day_zero = await journey.infuse()

    status = await journey.status()
    assert {"CRS-D0", "ICANS-D0"} <= {d.code for d in status.due}
    now = await journey.now()
    await journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=now, findings=crs_findings()))
    await journey.do(cmd.AssessIcans(actor=NURSE, assessed_at=now, findings=icans_findings()))
    await journey.move_to(day_zero + timedelta(days=1), hour=10)
    await journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=await journey.now(), findings=crs_findings()))
    await journey.move_to(day_zero + timedelta(days=2), hour=9)

    assert _daily(store, "TF-1620") == [
        ("daily_assessments_due", 0, ("crs", "icans")),
        ("daily_assessments_due", 1, ("crs", "icans")),
        ("daily_assessment_missed", 1, ("icans",)),
        ("daily_assessments_due", 2, ("crs", "icans")),
    ]
    status = await journey.status()
    due = {d.code: d for d in status.due}
    assert due["ICANS-D1"].overdue and "missed" in due["ICANS-D1"].what
    assert not due["CRS-D2"].overdue and "CRS-D1" not in due
    assert status.overdue
    assert [(d.day_number, d.crs, d.icans) for d in status.daily_monitoring[:3]] == [
        (0, "done", "done"),
        (1, "done", "missed"),
        (2, "due", "due"),
    ]
    described = await journey.handle.describe()
    assert described.typed_search_attributes.get(sa.OVERDUE) is True

    # Each day's reminder reached the nurse, the missed assessment the nurse and the investigator.
    daily = [(n.topic.value, n.role.value, n.facts.day_number) for n in channel.sent if "daily" in n.topic.value]
    assert sorted(daily) == [
        ("daily_assessment_missed", "investigator", 1),
        ("daily_assessment_missed", "nurse", 1),
        ("daily_assessments_due", "nurse", 0),
        ("daily_assessments_due", "nurse", 1),
        ("daily_assessments_due", "nurse", 2),
    ]
    infused = next(n for n in channel.sent if n.topic.value == "infused" and n.role.value == "nurse")
    assert infused.body.endswith(f"at least daily to day {UNTIL}.")

    # The history recorded with daily monitoring (its patch markers, its daily timers) replays as it ran.
    await journey.settled()
    history = await journey.handle.fetch_history()
    replayer = Replayer(workflows=[PatientJourneyWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)  # raises on any nondeterminism


async def test_daily_monitoring_ends_on_the_protocols_last_day(journey_env: Env) -> None:
    """Nothing assessed: both assessments missed every day from 0 to the last, and then no more checks."""
    temporal, store, task_queue = journey_env
    journey = JourneyClient(temporal.client, task_queue, "TF-1621", env=temporal)
    await journey.to_infusion()
    day_zero = await journey.infuse()
    await journey.move_to(day_zero + timedelta(days=UNTIL + 3))

    daily = _daily(store, "TF-1621")
    assert [day for kind, day, _ in daily if kind == "daily_assessments_due"] == list(range(UNTIL + 1))
    assert len([1 for kind, _, _ in daily if kind == "daily_assessment_missed"]) == 2 * (UNTIL + 1)
    status = await journey.status()
    assert not [d for d in status.due if is_daily_code(d.code)]
    assert {d.crs for d in status.daily_monitoring} == {"missed"}
