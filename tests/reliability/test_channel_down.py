"""A notification channel down under a real worker process on the dev server: a webhook answering 503 for a while
is retried (across a worker killed between attempts) and delivered exactly once; a channel that refuses for good
is escalated at once, and every failure stays in the delivery ledger that supervisors read, and in the log.

Still failing after the last retry (about 30 minutes; 2.5 for an immediate message) is escalated too: that takes
the server's clock, so tests/notifications/test_journey_notifications.py shows it on the time-skipping server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import PendingActivityState

from config.journey_ids import journey_workflow_id
from domain.journey import commands as cmd
from domain.roles import Role
from notifications.directory import ADDRESSABLE_ROLES
from records.deliveries import DeliveryLedger, DeliveryRecord, DeliveryStatus
from simulation.journey_steps import signed
from tests.domain.journey_driver import INVESTIGATOR
from tests.facade.journeys import enrollment
from tests.notifications.servers import ReceivedRequest, WebhookServer
from tests.reliability.histories import activity_runs, journey_runs
from tests.reliability.record_checks import assert_nothing_lost_or_duplicated
from tests.reliability.stack import FaultStack, fault_stack
from tests.reliability.worker_process import WorkerProcess
from tests.waiting import eventually

SIGNING_KEY = "reliability-webhook-signing-key"


def hook(role: Role) -> str:
    return f"/hooks/{role.value}"


@pytest.fixture(scope="module")
def webhooks() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def staff_directory(directory: Path, webhooks: WebhookServer) -> Path:
    """One person per role, each reached by one webhook on the loopback server."""
    entries = [
        f'[[staff]]\nid = "{role.value}.1"\nroles = ["{role.value}"]\nwebhooks = ["{webhooks.url(hook(role))}"]\n'
        for role in ADDRESSABLE_ROLES
    ]
    path = directory / "staff-directory.toml"
    path.write_text("\n".join(entries))
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory, webhooks: WebhookServer) -> AsyncIterator[FaultStack]:
    data_dir = tmp_path_factory.mktemp("channel-down")
    staff_directory(data_dir, webhooks)
    async with fault_stack(data_dir) as stack:
        yield stack


def notifying_worker(stack: FaultStack, name: str) -> WorkerProcess:
    return stack.worker(
        name,
        staff_directory=str(stack.data_dir / "staff-directory.toml"),
        webhook_signing_key=SIGNING_KEY,
        webhook_timeout_seconds="5",
    )


def about(webhooks: WebhookServer, study_id: str, role: Role) -> list[ReceivedRequest]:
    """The requests the role's webhook received about one patient."""
    return [r for r in webhooks.received(hook(role)) if json.loads(r.body)["notification"]["study_id"] == study_id]


def deliveries(stack: FaultStack, study_id: str) -> list[DeliveryRecord]:
    return DeliveryLedger(stack.store.engine).for_study(study_id)


async def quiet(stack: FaultStack, study_id: str) -> None:
    """Once the journey has no activity under way (notifications, escalations) any more."""

    async def no_activities() -> None:
        description = await stack.temporal.get_workflow_handle(journey_workflow_id(study_id)).describe()
        assert not description.raw_description.pending_activities, description.raw_description.pending_activities

    await eventually(no_activities, f"{study_id}'s notifications settled")


async def test_a_webhook_down_for_a_while_is_retried_across_a_worker_crash_and_delivered_once(
    stack: FaultStack, webhooks: WebhookServer
) -> None:
    webhooks.script[hook(Role.INVESTIGATOR)] = [503, 503]
    first = notifying_worker(stack, "worker-1")
    await first.start()
    await stack.trial.enroll(enrollment("NC-501"))  # eligible at screening: the investigator must confirm

    async def waiting_to_retry() -> None:
        description = await stack.temporal.get_workflow_handle(journey_workflow_id("NC-501")).describe()
        [notify] = [a for a in description.raw_description.pending_activities if a.activity_type.name == "notify"]
        assert notify.attempt == 2 and notify.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED, notify

    # The first attempt got a 503 and was reported failed: the retry now waits on the server, not on the worker.
    await eventually(waiting_to_retry, "the notification waiting for its second attempt")
    first.kill()
    await first.wait_killed()
    second = notifying_worker(stack, "worker-2")
    await second.start()

    await eventually(_accepted(webhooks, "NC-501", Role.INVESTIGATOR, 1), "the notification delivered")
    await quiet(stack, "NC-501")

    tried = about(webhooks, "NC-501", Role.INVESTIGATOR)
    print(f"NC-501: webhook answers {[r.answered for r in tried]}")
    assert [r.answered for r in tried] == [503, 503, 200]
    assert len({r.headers["Idempotency-Key"] for r in tried}) == 1  # one notification, tried three times
    [delivery] = deliveries(stack, "NC-501")
    assert (delivery.role, delivery.status, delivery.attempts, delivery.escalated_at) == (
        "investigator",
        DeliveryStatus.SENT,
        3,
        None,
    )
    assert not about(webhooks, "NC-501", Role.SUPERVISOR)  # delivered in the end: nobody else bothered
    [notify] = [run for h in await journey_runs(stack.temporal, "NC-501") for run in activity_runs(h, "notify")]
    assert (notify.attempts, notify.completed, notify.worker_identity) == (3, True, second.identity)

    # The journey goes on, and its next notification is delivered once too.
    await stack.trial.record("NC-501", signed(cmd.ConfirmEligibility(actor=INVESTIGATOR), datetime.now(UTC)))
    await eventually(_accepted(webhooks, "NC-501", Role.INVESTIGATOR, 2), "the next notification delivered")
    await quiet(stack, "NC-501")
    assert [r.answered for r in about(webhooks, "NC-501", Role.INVESTIGATOR)] == [503, 503, 200, 200]
    assert all(d.status is DeliveryStatus.SENT for d in deliveries(stack, "NC-501"))
    await assert_nothing_lost_or_duplicated(stack.temporal, stack.store, "NC-501", stack.trial.accepted["NC-501"])
    assert await second.stop() == 0


async def test_a_channel_down_for_good_is_escalated_and_nothing_is_dropped(
    stack: FaultStack, webhooks: WebhookServer
) -> None:
    webhooks.always[hook(Role.INVESTIGATOR)] = 410  # the investigator's webhook is gone
    worker = notifying_worker(stack, "worker-3")
    await worker.start()

    # NC-502: refused, so escalated at once to the supervisor, who is told.
    await stack.trial.enroll(enrollment("NC-502"))
    await eventually(_accepted(webhooks, "NC-502", Role.SUPERVISOR, 1), "the escalation delivered")
    await quiet(stack, "NC-502")
    assert [r.answered for r in about(webhooks, "NC-502", Role.INVESTIGATOR)] == [410]  # a refusal is not retried
    [failed] = await stack.trial.failed_notifications("NC-502")  # what supervisors list
    assert (failed.role, failed.status, failed.permanent_failure, failed.attempts) == (
        "investigator",
        DeliveryStatus.FAILED,
        True,
        1,
    )
    assert failed.escalated_at is not None and failed.escalation_key == f"{failed.notification_key}/escalation"
    [escalation] = DeliveryLedger(stack.store.engine).for_notification(failed.escalation_key)
    assert (escalation.role, escalation.status) == ("supervisor", DeliveryStatus.SENT)

    # NC-503: the supervisor's channel is gone too: both failures stay in the ledger and in the log.
    webhooks.always[hook(Role.SUPERVISOR)] = 410
    await stack.trial.enroll(enrollment("NC-503"))
    await eventually(_failed_twice(stack, "NC-503"), "both failures in the ledger")
    await quiet(stack, "NC-503")
    failures = await stack.trial.failed_notifications("NC-503")
    assert sorted((f.role, f.permanent_failure) for f in failures) == [("investigator", True), ("supervisor", True)]
    logged = [line for line in worker.log_lines() if line.get("study_id") == "NC-503"]
    assert any(line["event"] == "notification escalated" and line["level"] == "error" for line in logged), logged

    # The journeys themselves go on, their record whole.
    del webhooks.always[hook(Role.INVESTIGATOR)], webhooks.always[hook(Role.SUPERVISOR)]
    for study_id in ("NC-502", "NC-503"):
        await stack.trial.record(study_id, signed(cmd.ConfirmEligibility(actor=INVESTIGATOR), datetime.now(UTC)))
        await assert_nothing_lost_or_duplicated(stack.temporal, stack.store, study_id, stack.trial.accepted[study_id])
    assert await worker.stop() == 0


def _accepted(webhooks: WebhookServer, study_id: str, role: Role, count: int) -> Callable[[], Awaitable[None]]:
    """A check that the role's webhook has accepted `count` requests about the patient."""

    async def check() -> None:
        accepted = [r for r in about(webhooks, study_id, role) if 200 <= r.answered < 300]
        assert len(accepted) >= count, f"{role.value} has accepted {len(accepted)} about {study_id}"

    return check


def _failed_twice(stack: FaultStack, study_id: str) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        failed = await asyncio.to_thread(DeliveryLedger(stack.store.engine).failed, study_id=study_id)
        assert len(failed) == 2, failed

    return check
