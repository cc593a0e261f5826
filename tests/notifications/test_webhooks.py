"""Webhooks to a real HTTP server on loopback: a signed JSON body chat tools can show, the same Idempotency-Key on
every retry, 5xx retried, 4xx refused for good; and the signature helper receivers use."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.journey_activities import JourneyActivities
from domain.journey.notifications import Notification, NotificationFacts, Topic, Urgency
from domain.roles import Role
from notifications import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, ChannelKind, Notifier, WebhookChannel
from notifications.identity import idempotency_key, webhook_label
from notifications.signing import signature_header, verify_signature
from records import EventStore
from records.deliveries import DeliveryLedger, DeliveryStatus
from tests.notifications.people import webhook_directory
from tests.notifications.servers import WebhookServer
from workers.dev_server import free_port

KEY = SecretStr("whsec-test-0123456789abcdef")
GRADE_3_CRS = Notification(
    key="TF-007/31/investigator",
    study_id="TF-007",
    role=Role.INVESTIGATOR,
    urgency=Urgency.IMMEDIATE,
    topic=Topic.EXPEDITED_REPORT_DUE,
    facts=NotificationFacts(report_id="ER-00031", due_at=datetime(2026, 3, 4, 9, tzinfo=UTC), crs_grade=3),
)


def path_of(role: Role) -> str:
    return f"/hooks/{role.value}/T0KEN-{role.value}"


def activities_for(record_store: EventStore, server: WebhookServer, **directory: Any) -> JourneyActivities:
    hooks = WebhookChannel(KEY, timeout_seconds=5)
    notifier = Notifier(
        webhook_directory(lambda role: server.url(path_of(role)), **directory),
        DeliveryLedger(record_store.engine),
        {ChannelKind.WEBHOOK: hooks},
    )
    return JourneyActivities(record_store, notifier)


def run_attempt(activities: JourneyActivities, notification: Notification, attempt: int) -> None:
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, attempt=attempt)
    environment.run(activities.notify, notification)


def test_a_signed_json_body_for_chat_tools_and_programs(webhooks: WebhookServer, record_store: EventStore) -> None:
    run_attempt(activities_for(record_store, webhooks), GRADE_3_CRS, attempt=1)

    [request] = webhooks.received()
    assert request.path == path_of(Role.INVESTIGATOR)
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert verify_signature(KEY, request.headers[SIGNATURE_HEADER], request.body)
    recipient = webhook_label(webhooks.url(path_of(Role.INVESTIGATOR)))
    assert request.headers[IDEMPOTENCY_HEADER] == idempotency_key(GRADE_3_CRS.key, recipient)
    body = json.loads(request.body)
    assert body["text"] == f"[URGENT] {GRADE_3_CRS.subject}\n{GRADE_3_CRS.body}"
    assert body["notification"] == {
        "key": "TF-007/31/investigator",
        "delivery_id": request.headers[IDEMPOTENCY_HEADER],
        "study_id": "TF-007",
        "role": "investigator",
        "urgency": "immediate",
        "subject": GRADE_3_CRS.subject,
        "body": GRADE_3_CRS.body,
    }


def test_a_5xx_is_retried_with_the_same_idempotency_key_and_accepted_exactly_once(
    webhooks: WebhookServer, record_store: EventStore
) -> None:
    path = path_of(Role.INVESTIGATOR)
    webhooks.script[path] = [503]
    activities = activities_for(record_store, webhooks)

    with pytest.raises(ApplicationError) as failed:
        run_attempt(activities, GRADE_3_CRS, attempt=1)
    assert failed.value.non_retryable is False and "HTTP 503" in failed.value.message
    assert "T0KEN" not in failed.value.message  # the secret part of the URL stays out of errors
    run_attempt(activities, GRADE_3_CRS, attempt=2)
    run_attempt(activities, GRADE_3_CRS, attempt=3)  # once more, as after a lost completion: nothing is sent

    requests = webhooks.received(path)
    assert [r.answered for r in requests] == [503, 200]
    assert len({r.headers[IDEMPOTENCY_HEADER] for r in requests}) == 1
    assert all(verify_signature(KEY, r.headers[SIGNATURE_HEADER], r.body) for r in requests)
    [row] = DeliveryLedger(record_store.engine).for_notification(GRADE_3_CRS.key)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.SENT, 2, f"webhook {row.recipient}: HTTP 503")
    assert "T0KEN" not in row.recipient


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (404, True), (410, True), (429, False), (500, False)])
def test_a_4xx_is_refused_for_good_and_busy_or_broken_servers_are_retried(
    webhooks: WebhookServer, record_store: EventStore, status: int, permanent: bool
) -> None:
    webhooks.always[path_of(Role.INVESTIGATOR)] = status
    activities = activities_for(record_store, webhooks)

    with pytest.raises(ApplicationError) as failed:
        run_attempt(activities, GRADE_3_CRS, attempt=1)
    with pytest.raises(ApplicationError):
        run_attempt(activities, GRADE_3_CRS, attempt=2)

    assert failed.value.non_retryable is permanent
    assert f"HTTP {status}" in failed.value.message
    assert len(webhooks.received()) == (1 if permanent else 2)  # a refusal is never sent again
    [row] = DeliveryLedger(record_store.engine).failed()
    assert row.permanent_failure is permanent


def test_a_redirect_is_not_followed(webhooks: WebhookServer, record_store: EventStore) -> None:
    webhooks.always[path_of(Role.INVESTIGATOR)] = 302
    with pytest.raises(ApplicationError) as failed:
        run_attempt(activities_for(record_store, webhooks), GRADE_3_CRS, attempt=1)
    assert failed.value.non_retryable is True and "a redirect, not followed" in failed.value.message


def test_an_endpoint_that_is_down_is_retried(record_store: EventStore) -> None:
    port = free_port()
    notifier = Notifier(
        webhook_directory(lambda role: f"http://127.0.0.1:{port}/hooks/{role.value}"),
        DeliveryLedger(record_store.engine),
        {ChannelKind.WEBHOOK: WebhookChannel(KEY, timeout_seconds=5)},
    )
    outcome = notifier.deliver(GRADE_3_CRS)
    [failure] = outcome.failures
    assert failure.permanent is False
    assert failure.reason == f"webhook {failure.target.recipient}: ConnectError"
    assert failure.target.recipient.startswith(f"http://127.0.0.1:{port}#")


# ---------------------------------------------------------------- the receivers' helper


def test_verify_signature_accepts_only_the_signed_body_with_the_right_key_and_a_recent_time() -> None:
    body = b'{"text":"TF-001: product released"}'
    now = time.time()
    header = signature_header(KEY, int(now), body)

    assert verify_signature(KEY, header, body, now=now)
    assert verify_signature(KEY.get_secret_value().encode(), header, body, now=now)
    assert not verify_signature(SecretStr("another-key"), header, body, now=now)
    assert not verify_signature(KEY, header, body + b" ", now=now)
    assert not verify_signature(KEY, header, body, now=now + 301)  # too old: a replayed capture
    assert verify_signature(KEY, header, body, now=now + 301, tolerance_seconds=600)
    for malformed in (None, "", "v1=abc", "t=,v1=abc", f"t={int(now)}", f"t=x,{header.split(',')[1]}"):
        assert not verify_signature(KEY, malformed, body, now=now)
    rotated = f"{header},v1={'0' * 64}"  # signed with the new key and an old one
    assert verify_signature(KEY, rotated, body, now=now)
