"""The delivery ledger on SQLite and PostgreSQL: one row per (notification, recipient, channel), attempts
counted, failures listed for supervisors, escalation marked once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from records import EventStore
from records.deliveries import DeliveryLedger, DeliveryStatus, DeliveryTarget

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: int = 1) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | URL:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'trial-record.db'}"
    url: URL = request.getfixturevalue("fresh_postgres_url")
    return url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def any_ledger(database_url: str | URL, clock: Clock) -> Iterator[DeliveryLedger]:
    store = EventStore(database_url)
    store.migrate()
    try:
        yield DeliveryLedger(store.engine, clock=clock)
    finally:
        store.close()


def target(
    key: str = "TF-001/3/investigator", recipient: str = "li@hospital.example", **changes: str
) -> DeliveryTarget:
    fields = {
        "notification_key": key,
        "study_id": key.split("/")[0],
        "role": key.split("/")[2],
        "staff_id": "dr.li",
        "channel": "email",
        "recipient": recipient,
    }
    fields.update(changes)
    return DeliveryTarget(**fields)


def test_a_failure_then_a_success_is_one_row_with_both_attempts(any_ledger: DeliveryLedger, clock: Clock) -> None:
    first = any_ledger.record_failure(target(), "SMTP 451 try again later", permanent=False)
    clock.advance(2)
    sent = any_ledger.record_sent(target())

    assert (first.status, first.attempts, first.sent_at) == (DeliveryStatus.FAILED, 1, None)
    assert sent.status is DeliveryStatus.SENT and sent.attempts == 2
    assert (sent.first_attempt_at, sent.last_attempt_at, sent.sent_at) == (T0, clock.now, clock.now)
    assert sent.last_error == "SMTP 451 try again later"  # kept: it needed a retry
    assert any_ledger.find(target()) == sent
    assert any_ledger.find(target(recipient="other@hospital.example")) is None
    assert any_ledger.failed() == []


def test_the_same_recipient_on_another_channel_or_notification_is_another_delivery(any_ledger: DeliveryLedger) -> None:
    any_ledger.record_sent(target())
    any_ledger.record_sent(target(channel="webhook"))
    any_ledger.record_sent(target(key="TF-001/4/investigator"))
    assert [r.channel for r in any_ledger.for_notification("TF-001/3/investigator")] == ["email", "webhook"]
    assert len(any_ledger.for_study("TF-001")) == 3


def test_supervisors_see_failures_newest_first_and_can_narrow_them(any_ledger: DeliveryLedger, clock: Clock) -> None:
    any_ledger.record_failure(target(), "SMTP 550 no such user", permanent=True)
    clock.advance()
    any_ledger.record_failure(target("TF-002/5/pharmacy", "rx@hospital.example"), "HTTP 503", permanent=False)
    clock.advance()
    any_ledger.record_sent(target("TF-002/6/nurse", "ward@hospital.example"))
    marked = any_ledger.mark_escalated("TF-001/3/investigator", "TF-001/3/investigator/escalation")

    assert marked == 1
    assert [r.notification_key for r in any_ledger.failed()] == ["TF-002/5/pharmacy", "TF-001/3/investigator"]
    assert [r.study_id for r in any_ledger.failed(study_id="TF-001")] == ["TF-001"]
    [escalated] = any_ledger.failed(escalated=True)
    assert escalated.permanent_failure and escalated.escalation_key == "TF-001/3/investigator/escalation"
    assert escalated.escalated_at == clock.now
    assert [r.study_id for r in any_ledger.failed(escalated=False)] == ["TF-002"]
    assert [r.study_id for r in any_ledger.failed(since=T0 + timedelta(minutes=1))] == ["TF-002"]
    assert len(any_ledger.failed(limit=1)) == 1


def test_escalation_marks_only_failed_deliveries_and_only_once(any_ledger: DeliveryLedger, clock: Clock) -> None:
    any_ledger.record_sent(target())
    any_ledger.record_failure(target(channel="webhook"), "HTTP 500", permanent=False)
    assert any_ledger.mark_escalated("TF-001/3/investigator", "E") == 1
    clock.advance()
    assert any_ledger.mark_escalated("TF-001/3/investigator", "E") == 0
    rows = any_ledger.for_notification("TF-001/3/investigator")
    assert [(r.channel, r.escalated_at) for r in rows] == [("email", None), ("webhook", T0)]


def test_a_long_error_is_cut_short(any_ledger: DeliveryLedger) -> None:
    record = any_ledger.record_failure(target(), "x" * 5000, permanent=False)
    assert record.last_error is not None and len(record.last_error) == 500
