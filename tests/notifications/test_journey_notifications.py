"""Journeys on the time-skipping server with a worker whose notifier posts to a real webhook server on loopback:
the expected notifications reach the expected roles in the journey's order, and a role that cannot be reached is
escalated after the last retry (or at once when refused), with the failure in the delivery ledger."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from domain.journey import commands as cmd
from domain.roles import Role
from notifications import SIGNATURE_HEADER, ChannelKind, Notifier, WebhookChannel, verify_signature
from records import EventStore
from records.deliveries import DeliveryLedger, DeliveryStatus
from tests.domain.journey_driver import INVESTIGATOR, NURSE, crs_findings
from tests.notifications.people import webhook_directory
from tests.notifications.servers import ReceivedRequest, WebhookServer
from tests.workflows.journey_client import JourneyClient
from workers.time_skipping import skip_time
from workers.worker import journey_worker
from workflows.patient_journey import NOTIFY_MAX_ATTEMPTS

KEY = SecretStr("journey-webhook-signing-key")
WAIT_SECONDS = 60  # how long a test waits for fire-and-forget deliveries before it fails (never a timing claim)


def hook(role: Role) -> str:
    return f"/hooks/{role.value}"


@dataclass
class NotifyingStack:
    env: WorkflowEnvironment
    webhooks: WebhookServer
    ledger: DeliveryLedger
    task_queue: str
    journeys: list[JourneyClient] = field(default_factory=list)

    def journey(self, study_id: str) -> JourneyClient:
        journey = JourneyClient(self.env.client, self.task_queue, study_id, self.env)
        self.journeys.append(journey)
        return journey

    async def received(self, condition: Callable[[list[ReceivedRequest]], bool]) -> list[ReceivedRequest]:
        """The requests so far, once `condition` holds of them (deliveries run beside the workflow)."""
        for _ in range(WAIT_SECONDS * 10):
            requests = self.webhooks.received()
            if condition(requests):
                return requests
            await asyncio.sleep(0.1)
        raise AssertionError(f"not received in {WAIT_SECONDS} s: {[(r.path, r.answered) for r in requests]}")


@pytest.fixture
def escalation() -> dict[str, str]:
    """The directory's [escalation] table; a test parametrizes it to change who covers for whom."""
    return {}


@pytest_asyncio.fixture
async def stack(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path, webhooks: WebhookServer, escalation: dict[str, str]
) -> AsyncIterator[NotifyingStack]:
    """A worker on its own task queue, notifying one webhook per role."""
    store = EventStore(f"sqlite:///{tmp_path / 'trial-record.db'}")
    store.migrate()
    ledger = DeliveryLedger(store.engine)
    channel = WebhookChannel(KEY, timeout_seconds=5)
    notifier = Notifier(
        webhook_directory(lambda role: webhooks.url(hook(role)), **escalation), ledger, {ChannelKind.WEBHOOK: channel}
    )
    task_queue = f"notifying-journeys-{uuid.uuid4()}"
    stack = NotifyingStack(env=time_skipping_env, webhooks=webhooks, ledger=ledger, task_queue=task_queue)
    try:
        async with journey_worker(time_skipping_env.client, store, task_queue=task_queue, notifier=notifier):
            try:
                yield stack
            finally:
                # A journey left waiting with no worker would hold the shared time-skipping clock still.
                for journey in stack.journeys:
                    await journey.stop()
    finally:
        notifier.close()
        store.close()


def body(request: ReceivedRequest) -> dict[str, Any]:
    notification: dict[str, Any] = json.loads(request.body)["notification"]
    return notification


def sequence_of(notification_key: str) -> int:
    return int(notification_key.split("/")[1])


async def test_a_journey_to_grade_3_crs_tells_each_role_in_order(stack: NotifyingStack) -> None:
    journey = stack.journey("TF-801")
    await journey.to_infusion()
    await journey.infuse()
    findings = crs_findings(max_temperature_c=39.4, hypotension=True, vasopressors_excluding_vasopressin=1)
    await journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=await journey.now(), findings=findings))

    expected = [
        {(Role.INVESTIGATOR, "eligible at screening")},
        {(Role.INVESTIGATOR, "eligibility confirmed")},
        {(Role.APHERESIS_UNIT, "consent signed")},
        {(Role.APHERESIS_UNIT, "apheresis booked for")},  # its day follows
        {(Role.CELL_LAB, "cells collected")},
        {(Role.PHARMACY, "product released"), (Role.PHYSICIAN, "product released")},
        {(Role.PHARMACY, "lymphodepletion prescribed")},
        {(Role.PHYSICIAN, "infusion window open")},
        {(Role.NURSE, "infused: day 0"), (Role.PHYSICIAN, "infused: day 0")},
        {(Role.NURSE, "daily CRS, ICANS due today (day 0)")},  # the infusion day's daily assessments
        {(Role.INVESTIGATOR, "expedited safety report due by")},
    ]
    count = sum(len(step) for step in expected)
    requests = await stack.received(lambda received: len(received) >= count)

    assert len(requests) == count  # each once, none refused
    by_sequence: dict[int, set[tuple[Role, str]]] = {}
    for request in requests:
        notification = body(request)
        role = Role(notification["role"])
        assert request.path == hook(role)  # routed to the person holding the role
        assert verify_signature(KEY, request.headers[SIGNATURE_HEADER], request.body)
        assert notification["study_id"] == "TF-801" and notification["subject"].startswith("TF-801: ")
        subject = notification["subject"].removeprefix("TF-801: ")
        subject = subject.split(" by ")[0] + " by" if subject.startswith("expedited") else subject
        subject = subject.split(" for ")[0] + " for" if subject.startswith("apheresis booked") else subject
        by_sequence.setdefault(sequence_of(notification["key"]), set()).add((role, subject))
    assert [by_sequence[s] for s in sorted(by_sequence)] == expected
    report = next(body(r) for r in requests if body(r)["urgency"] == "immediate")
    assert "CRS grade 3" in report["body"] and "Report to the sponsor by " in report["body"]
    assert all(row.status is DeliveryStatus.SENT for row in stack.ledger.for_study("TF-801"))
    assert len(stack.ledger.for_study("TF-801")) == count


async def test_a_role_that_cannot_be_reached_is_escalated_after_the_last_attempt(stack: NotifyingStack) -> None:
    stack.webhooks.always[hook(Role.INVESTIGATOR)] = 503
    journey = stack.journey("TF-802")
    await journey.start()  # eligible at screening: the investigator must confirm
    # The retries' backoff (about half an hour) passes on the server's clock while the test waits on it.
    await skip_time(stack.env, timedelta(hours=2))

    requests = await stack.received(lambda received: any(r.path == hook(Role.SUPERVISOR) for r in received))

    tried = [r for r in requests if r.path == hook(Role.INVESTIGATOR)]
    assert [r.answered for r in tried] == [503] * NOTIFY_MAX_ATTEMPTS
    assert len({r.headers["Idempotency-Key"] for r in tried}) == 1
    [escalation] = [body(r) for r in requests if r.path == hook(Role.SUPERVISOR)]
    assert escalation["key"] == "TF-802/2/investigator/escalation"
    assert escalation["subject"] == "TF-802: NOT DELIVERED to the investigator: eligible at screening"
    assert "still failing after the last attempt" in escalation["body"] and "HTTP 503" in escalation["body"]
    assert "Confirm eligibility." in escalation["body"]
    [failed] = stack.ledger.failed(study_id="TF-802")
    assert (failed.role, failed.attempts, failed.permanent_failure) == ("investigator", NOTIFY_MAX_ATTEMPTS, False)
    assert failed.escalation_key == escalation["key"] and failed.escalated_at is not None
    [sent] = stack.ledger.for_notification(escalation["key"])
    assert (sent.role, sent.status) == ("supervisor", DeliveryStatus.SENT)


@pytest.mark.parametrize("escalation", [{"investigator": "physician"}])
async def test_a_refusal_is_escalated_at_once_to_the_role_the_directory_names(stack: NotifyingStack) -> None:
    stack.webhooks.always[hook(Role.INVESTIGATOR)] = 404
    journey = stack.journey("TF-803")
    await journey.start()

    requests = await stack.received(lambda received: any(r.path == hook(Role.PHYSICIAN) for r in received))

    assert [r.answered for r in requests if r.path == hook(Role.INVESTIGATOR)] == [404]
    [escalation] = [body(r) for r in requests if r.path == hook(Role.PHYSICIAN)]
    assert escalation["key"] == "TF-803/2/investigator/escalation" and "HTTP 404" in escalation["body"]
    assert not any(r.path == hook(Role.SUPERVISOR) for r in requests)
    [failed] = stack.ledger.failed(study_id="TF-803", escalated=True)
    assert (failed.attempts, failed.permanent_failure) == (1, True)


async def test_a_closed_infusion_window_and_its_late_approval_are_told(stack: NotifyingStack) -> None:
    journey = stack.journey("TF-804")
    await journey.to_infusion()
    status = await journey.status()
    window = next(item for item in status.due if item.code == "INFUSION")
    assert window.window_closes is not None
    await journey.move_to(window.window_closes + timedelta(days=1))
    await journey.do(cmd.ApproveInfusionOutsideWindow(actor=INVESTIGATOR, reason="infection resolved"))

    def both_told(received: list[ReceivedRequest]) -> bool:
        subjects = {body(r)["subject"] for r in received}
        return {"TF-804: infusion window closed", "TF-804: late infusion approved"} <= subjects

    requests = await stack.received(both_told)

    told = {body(r)["subject"].removeprefix("TF-804: "): body(r) for r in requests}
    closed, approved = told["infusion window closed"], told["late infusion approved"]
    assert (closed["role"], closed["urgency"]) == ("investigator", "immediate")
    assert "approve a late infusion or record it not given" in closed["body"]
    assert (approved["role"], approved["urgency"]) == ("physician", "soon")
    assert "infuse and record it" in approved["body"]
    assert sequence_of(approved["key"]) == sequence_of(closed["key"]) + 1
