"""E-mail to a real SMTP server on loopback (aiosmtpd): recipients, subject, body and Message-ID as sent; a retried
notify activity sends each message once; STARTTLS, implicit TLS and login; refusals and outages classified."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.journey_activities import JourneyActivities
from domain.journey.notifications import Notification, NotificationFacts, Topic, Urgency
from domain.roles import Role
from notifications import ADDRESSABLE_ROLES, ChannelKind, EmailChannel, Notifier, SmtpConfig, StaffDirectory
from notifications.identity import message_id
from records import EventStore
from records.deliveries import DeliveryLedger, DeliveryStatus
from tests.notifications.people import directory_of, staff_entry
from tests.notifications.servers import Certificate, SmtpServer
from workers.dev_server import free_port

SENDER = "trialflow@trial.hospital.example"
PHARMACISTS = ("rx.one@hospital.example", "rx.two@hospital.example")

RELEASED = Notification(
    key="TF-001/6/pharmacy",
    study_id="TF-001",
    role=Role.PHARMACY,
    urgency=Urgency.SOON,
    topic=Topic.PRODUCT_RELEASED,
    facts=NotificationFacts(cells=2e8, on=date(2026, 2, 1), chain_of_identity="TF-001-01-K"),
)
OVERDUE = Notification(
    key="TF-001/19/investigator",
    study_id="TF-001",
    role=Role.INVESTIGATOR,
    urgency=Urgency.IMMEDIATE,
    topic=Topic.EXPEDITED_REPORT_OVERDUE,
    facts=NotificationFacts(report_id="ER-00017", due_at=datetime(2026, 2, 3, 9, tzinfo=UTC)),
)


def directory() -> StaffDirectory:
    entries = [
        staff_entry(role, email=f"{role.value}@hospital.example") for role in ADDRESSABLE_ROLES if role != Role.PHARMACY
    ]
    entries += [
        {"id": "rx.one", "roles": ["pharmacy"], "email": PHARMACISTS[0]},
        {"id": "rx.two", "display_name": "Oncology pharmacy", "roles": ["pharmacy"], "email": [PHARMACISTS[1]]},
    ]
    return directory_of(entries)


def notify_activity(record_store: EventStore, config: SmtpConfig) -> JourneyActivities:
    notifier = Notifier(directory(), DeliveryLedger(record_store.engine), {ChannelKind.EMAIL: EmailChannel(config)})
    return JourneyActivities(record_store, notifier)


def run_attempt(activities: JourneyActivities, notification: Notification, attempt: int) -> None:
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, attempt=attempt)
    environment.run(activities.notify, notification)


def plain(server: SmtpServer, **changes: Any) -> SmtpConfig:
    return dataclasses.replace(SmtpConfig(host="127.0.0.1", port=server.port, starttls=False, sender=SENDER), **changes)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def test_each_holder_of_the_role_gets_one_message_with_a_stable_message_id_and_a_retry_sends_nothing_again(
    smtp: SmtpServer, record_store: EventStore
) -> None:
    activities = notify_activity(record_store, plain(smtp))

    run_attempt(activities, RELEASED, attempt=1)
    run_attempt(activities, RELEASED, attempt=2)  # Temporal retried it (e.g. the worker lost the completion)

    received = smtp.messages()
    assert [m.recipients for m in received] == [(PHARMACISTS[0],), (PHARMACISTS[1],)]
    for mail, address in zip(received, PHARMACISTS, strict=True):
        message = mail.message
        assert mail.mail_from == SENDER and message["From"] == SENDER and message["To"] == address
        assert message["Subject"] == "TF-001: product released"
        assert message["Message-ID"] == message_id(RELEASED.key, address, SENDER)
        assert message["Message-ID"].endswith("@trial.hospital.example>")
        assert message["X-Trialflow-Notification"] == "TF-001/6/pharmacy"
        assert message["Auto-Submitted"] == "auto-generated" and message["Importance"] is None
        body = message.get_content()
        assert body.startswith(RELEASED.body) and "To the pharmacy of study patient TF-001" in body
    assert received[0].message["Message-ID"] != received[1].message["Message-ID"]
    rows = DeliveryLedger(record_store.engine).for_notification(RELEASED.key)
    assert [(r.recipient, r.status, r.attempts) for r in rows] == [
        (PHARMACISTS[0], DeliveryStatus.SENT, 1),
        (PHARMACISTS[1], DeliveryStatus.SENT, 1),
    ]


def test_a_recipient_the_server_defers_is_retried_alone_and_gets_exactly_one_message(
    smtp: SmtpServer, record_store: EventStore
) -> None:
    activities = notify_activity(record_store, plain(smtp))
    smtp.recorder.refuse[PHARMACISTS[1]] = "451 4.2.0 Mailbox busy, try again"

    with pytest.raises(ApplicationError) as failed:
        run_attempt(activities, RELEASED, attempt=1)
    assert failed.value.non_retryable is False and failed.value.type == "NotificationUndelivered"
    assert f"email to {PHARMACISTS[1]} (rx.two): SMTP 451 recipient refused" in failed.value.message
    assert "1 of 2 deliveries failed" in failed.value.message

    smtp.recorder.refuse.clear()
    run_attempt(activities, RELEASED, attempt=2)
    run_attempt(activities, RELEASED, attempt=3)

    assert sorted(m.recipients[0] for m in smtp.messages()) == sorted(PHARMACISTS)
    rows = {r.recipient: r for r in DeliveryLedger(record_store.engine).for_notification(RELEASED.key)}
    assert (rows[PHARMACISTS[0]].attempts, rows[PHARMACISTS[1]].attempts) == (1, 2)
    assert rows[PHARMACISTS[1]].status is DeliveryStatus.SENT


def test_a_recipient_refused_for_good_is_not_retried_and_fails_the_activity_for_good(
    smtp: SmtpServer, record_store: EventStore
) -> None:
    activities = notify_activity(record_store, plain(smtp))
    smtp.recorder.refuse[PHARMACISTS[0]] = "550 5.1.1 No such user"

    for attempt in (1, 2):
        with pytest.raises(ApplicationError) as failed:
            run_attempt(activities, RELEASED, attempt=attempt)
        assert failed.value.non_retryable is True
        assert "SMTP 550 recipient refused: 5.1.1 No such user [refused for good]" in failed.value.message

    assert [m.recipients for m in smtp.messages()] == [(PHARMACISTS[1],)]
    [refused] = DeliveryLedger(record_store.engine).failed()
    assert (refused.recipient, refused.permanent_failure, refused.attempts) == (PHARMACISTS[0], True, 1)


def test_starttls_and_login_with_a_private_ca(certificate: Certificate, record_store: EventStore) -> None:
    with SmtpServer(certificate=certificate, starttls=True, logins={"trialflow": "s3cret"}) as server:
        config = plain(
            server,
            starttls=True,
            username="trialflow",
            password=SecretStr("s3cret"),
            ca_file=certificate.cert_file,
        )
        run_attempt(notify_activity(record_store, config), OVERDUE, attempt=1)
        [mail] = server.messages()

    assert mail.over_tls and mail.authenticated_as == "trialflow"
    assert mail.recipients == ("investigator@hospital.example",)
    assert mail.message["Importance"] == "high" and mail.message["X-Trialflow-Urgency"] == "immediate"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # aiosmtpd cannot tell implicit TLS
def test_implicit_tls_and_login(certificate: Certificate, record_store: EventStore) -> None:
    with SmtpServer(certificate=certificate, implicit_tls=True, logins={"trialflow": "s3cret"}) as server:
        config = plain(
            server,
            implicit_tls=True,
            username="trialflow",
            password=SecretStr("s3cret"),
            ca_file=certificate.cert_file,
        )
        run_attempt(notify_activity(record_store, config), OVERDUE, attempt=1)
        [mail] = server.messages()
    assert mail.over_tls and mail.authenticated_as == "trialflow"


@pytest.mark.parametrize(
    ("client", "expected", "permanent"),
    [
        ({"username": "trialflow", "password": SecretStr("wrong")}, "SMTP 535", True),
        ({"starttls": False, "username": None, "password": None}, "SMTP 530", True),  # the server requires TLS
        ({"ca_file": None}, "certificate is not trusted", True),  # a self-signed server, the system's CAs
    ],
    ids=["wrong-password", "no-starttls", "untrusted-certificate"],
)
def test_misconfiguration_is_a_permanent_failure_named_in_words(
    certificate: Certificate, record_store: EventStore, client: dict[str, Any], expected: str, permanent: bool
) -> None:
    with SmtpServer(certificate=certificate, starttls=True, logins={"trialflow": "s3cret"}) as server:
        config = plain(
            server, starttls=True, username="trialflow", password=SecretStr("s3cret"), ca_file=certificate.cert_file
        )
        with pytest.raises(ApplicationError) as failed:
            run_attempt(notify_activity(record_store, dataclasses.replace(config, **client)), OVERDUE, attempt=1)
        assert server.messages() == []
    assert expected in failed.value.message
    assert failed.value.non_retryable is permanent
    assert "s3cret" not in failed.value.message and "wrong" not in failed.value.message


def test_a_server_that_is_down_is_a_failure_to_retry(record_store: EventStore) -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), starttls=False, sender=SENDER, timeout_seconds=5)
    with pytest.raises(ApplicationError) as failed:
        run_attempt(notify_activity(record_store, config), OVERDUE, attempt=1)
    assert failed.value.non_retryable is False
    assert "ConnectionRefusedError" in failed.value.message
