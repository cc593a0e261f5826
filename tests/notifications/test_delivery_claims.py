"""Each delivery is claimed in the ledger (an attempt id and a lease) before it is sent: two notify attempts for the
same notification at once (one that outlived its timeout and its retry) send it exactly once, to a real webhook
server; a claim whose attempt died is taken over once its lease has passed. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from temporalio.testing import ActivityEnvironment

from activities.journey_activities import JourneyActivities
from domain.journey.notifications import Notification
from domain.roles import Role
from notifications import ChannelKind, Notifier, WebhookChannel
from notifications.routing import plan_deliveries
from records import EventStore
from records.deliveries import DeliveryClaim, DeliveryLedger, DeliveryStatus, DeliveryTarget
from tests.notifications.people import webhook_directory
from tests.notifications.servers import WebhookServer
from tests.notifications.test_webhooks import GRADE_3_CRS, KEY, path_of

LEASE = timedelta(minutes=2)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    url: str | URL = f"sqlite:///{tmp_path / 'trial-record.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("fresh_postgres_url")
    store = EventStore(url)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


class WatchedLedger(DeliveryLedger):
    """The ledger, noting when an attempt found a delivery claimed by another (it then waits)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.found_claimed = threading.Event()

    def claim(self, target: DeliveryTarget, attempt_id: str, lease: timedelta) -> DeliveryClaim | None:
        holder = super().claim(target, attempt_id, lease)
        if holder is not None:
            self.found_claimed.set()
        return holder


def notifier_for(ledger: DeliveryLedger, server: WebhookServer) -> Notifier:
    directory = webhook_directory(lambda role: server.url(path_of(role)))
    return Notifier(directory, ledger, {ChannelKind.WEBHOOK: WebhookChannel(KEY, timeout_seconds=30)})


def notify_attempt(activities: JourneyActivities, notification: Notification, attempt: int) -> None:
    """One attempt of the notify activity, as a worker runs it (its attempt number in its info)."""
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, attempt=attempt)
    environment.run(activities.notify, notification)


def the_target(notifier: Notifier, notification: Notification) -> DeliveryTarget:
    [delivery] = plan_deliveries(notification, notifier.directory)
    return delivery.target


def test_two_attempts_at_once_send_once(store: EventStore, webhooks: WebhookServer) -> None:
    ledger = WatchedLedger(store.engine)
    activities = JourneyActivities(store, notifier_for(ledger, webhooks))
    webhooks.answering.clear()  # the first attempt's request is held: it is sending when the second one starts
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(notify_attempt, activities, GRADE_3_CRS, 1)
        assert webhooks.arrived.wait(timeout=60), "the first attempt never sent"
        second = pool.submit(notify_attempt, activities, GRADE_3_CRS, 2)
        assert ledger.found_claimed.wait(timeout=60), "the second attempt did not find the delivery claimed"
        webhooks.answering.set()
        first.result(timeout=60)
        second.result(timeout=60)

    [received] = webhooks.received(path_of(Role.INVESTIGATOR))
    assert received.answered == 200
    [delivery] = ledger.for_notification(GRADE_3_CRS.key)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)


def test_a_claim_whose_attempt_died_is_taken_over_after_its_lease(store: EventStore, webhooks: WebhookServer) -> None:
    ledger = WatchedLedger(store.engine)
    notifier = notifier_for(ledger, webhooks)
    # An attempt claimed the delivery and died before sending: its claim holds for a second.
    assert ledger.claim(the_target(notifier, GRADE_3_CRS), "worker-that-died/1/1", timedelta(seconds=1)) is None

    outcome = notifier.deliver(GRADE_3_CRS, attempt_id="retry/1/2")

    assert ledger.found_claimed.is_set()  # it waited for the lease
    assert outcome.delivered and len(outcome.sent) == 1, outcome
    assert len(webhooks.received(path_of(Role.INVESTIGATOR))) == 1


def test_a_claim_is_the_attempts_until_its_lease_ends_or_it_lets_go(store: EventStore) -> None:
    now = [datetime(2026, 3, 1, 8, 0, tzinfo=UTC)]
    ledger = DeliveryLedger(store.engine, clock=lambda: now[0])
    target = DeliveryTarget(
        notification_key="TF-001/3/investigator",
        study_id="TF-001",
        role="investigator",
        staff_id="dr.li",
        channel="webhook",
        recipient="https://chat.example#abc",
    )

    assert ledger.claim(target, "a", LEASE) is None
    assert ledger.claim(target, "a", LEASE) is None  # the same attempt again: still its own
    assert ledger.claim(target, "b", LEASE) == DeliveryClaim(attempt_id="a", claimed_until=now[0] + LEASE)
    now[0] += LEASE + timedelta(seconds=1)
    assert ledger.claim(target, "b", LEASE) is None  # a's lease has passed: taken over
    assert ledger.claim(target, "a", LEASE) is not None  # and a, late, must now wait for b
    ledger.release(target, "a")  # letting go of a claim it no longer holds changes nothing
    assert ledger.claim(target, "c", LEASE) is not None
    ledger.release(target, "b")
    assert ledger.claim(target, "c", LEASE) is None
