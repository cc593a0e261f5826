"""The escalate_notification activity: the original's failed deliveries marked, the covering role told, the log
channel always written; an escalation that cannot be delivered either is retried, then left to the ledger."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.journey_activities import EscalationRequest, JourneyActivities
from domain.journey.notifications import Notification, NotificationFacts, Topic, Urgency
from domain.roles import Role
from notifications import ChannelKind, Notifier, WebhookChannel
from records import EventStore
from records.deliveries import DeliveryLedger, DeliveryStatus
from tests.notifications.people import webhook_directory
from tests.notifications.servers import WebhookServer

KEY = SecretStr("escalation-test-key")
MISSED = Notification(
    key="TF-005/40/research_coordinator",
    study_id="TF-005",
    role=Role.RESEARCH_COORDINATOR,
    urgency=Urgency.SOON,
    topic=Topic.VISIT_MISSED,
    facts=NotificationFacts(step="D14", on=date(2026, 2, 20)),
)


def hook(role: Role) -> str:
    return f"/hooks/{role.value}"


@pytest.fixture
def activities(record_store: EventStore, webhooks: WebhookServer) -> JourneyActivities:
    notifier = Notifier(
        webhook_directory(lambda role: webhooks.url(hook(role))),
        DeliveryLedger(record_store.engine),
        {ChannelKind.WEBHOOK: WebhookChannel(KEY, timeout_seconds=5)},
    )
    return JourneyActivities(record_store, notifier)


def fail_notify(activities: JourneyActivities) -> str:
    with pytest.raises(ApplicationError) as failed:
        ActivityEnvironment().run(activities.notify, MISSED)
    return failed.value.message


def test_the_covering_role_is_told_and_the_failure_is_marked_and_logged(
    activities: JourneyActivities, webhooks: WebhookServer, ledger: DeliveryLedger
) -> None:
    webhooks.always[hook(Role.RESEARCH_COORDINATOR)] = 500
    failure = fail_notify(activities)

    with capture_logs() as logs:
        result = ActivityEnvironment().run(
            activities.escalate_notification, EscalationRequest(notification=MISSED, failure=failure)
        )
        again = ActivityEnvironment().run(
            activities.escalate_notification, EscalationRequest(notification=MISSED, failure=failure)
        )

    assert (result.escalated_to, result.sent, again.sent, again.already_sent) == ("investigator", 1, 0, 1)
    assert len(webhooks.received(hook(Role.INVESTIGATOR))) == 1
    [original] = ledger.failed(escalated=True)
    assert original.escalation_key == result.escalation_key == "TF-005/40/research_coordinator/escalation"
    logged = [entry for entry in logs if entry["event"] == "notification escalated"]
    assert logged and logged[0]["log_level"] == "error" and logged[0]["channel"] == "log"
    assert logged[0]["escalated_to"] == "investigator" and "HTTP 500" in logged[0]["failure"]


def test_an_escalation_that_cannot_be_delivered_is_retried_and_stays_visible(
    activities: JourneyActivities, webhooks: WebhookServer, ledger: DeliveryLedger
) -> None:
    webhooks.always[hook(Role.RESEARCH_COORDINATOR)] = 500
    webhooks.always[hook(Role.INVESTIGATOR)] = 503
    request = EscalationRequest(notification=MISSED, failure=fail_notify(activities))

    with pytest.raises(ApplicationError) as failed:
        ActivityEnvironment().run(activities.escalate_notification, request)

    assert failed.value.type == "EscalationUndelivered" and failed.value.non_retryable is False
    assert {(r.role, r.status, r.escalated_at is not None) for r in ledger.failed()} == {
        ("research_coordinator", DeliveryStatus.FAILED, True),
        ("investigator", DeliveryStatus.FAILED, False),
    }


def test_an_escalation_refused_for_good_is_not_retried(
    activities: JourneyActivities, webhooks: WebhookServer, ledger: DeliveryLedger
) -> None:
    webhooks.always[hook(Role.RESEARCH_COORDINATOR)] = 500
    webhooks.always[hook(Role.INVESTIGATOR)] = 403
    request = EscalationRequest(notification=MISSED, failure=fail_notify(activities))

    result = ActivityEnvironment().run(activities.escalate_notification, request)

    assert (result.sent, result.already_sent) == (0, 0)
    [refused] = ledger.failed(escalated=False)
    assert (refused.notification_key, refused.permanent_failure) == (result.escalation_key, True)
