"""The notifier: routes a notification to people, sends it on each of their channels once, and keeps the ledger.

The log channel always records; e-mail and webhooks skip what the ledger shows as sent. A channel failure is
recorded and reported back, never raised: the activity decides whether Temporal retries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import structlog

from domain.journey.notifications import Notification, escalation_for
from domain.protocol import FrozenModel
from notifications.directory import StaffDirectory
from notifications.errors import DeliveryError, NotificationConfigurationError
from notifications.routing import ChannelKind, PlannedDelivery, plan_deliveries
from records.deliveries import DeliveryLedger, DeliveryStatus, DeliveryTarget

log = structlog.get_logger("trialflow.notifications")


def log_channel_fields(notification: Notification) -> dict[str, str]:
    """A notification as the log channel writes it: the channel that never fails, whatever the others do."""
    return {
        "channel": "log",
        "key": notification.key,
        "study_id": notification.study_id,
        "role": notification.role.value,
        "urgency": notification.urgency.value,
        "subject": notification.subject,
        "body": notification.body,
    }


class Channel(Protocol):
    kind: ChannelKind

    def send(self, notification: Notification, delivery: PlannedDelivery) -> None:
        """Deliver or raise a DeliveryError (transient or permanent)."""


class DeliveryFailure(FrozenModel):
    target: DeliveryTarget
    reason: str
    permanent: bool


class DeliveryOutcome(FrozenModel):
    """What one pass over a notification's deliveries did."""

    notification_key: str
    sent: tuple[DeliveryTarget, ...] = ()
    already_sent: tuple[DeliveryTarget, ...] = ()
    failures: tuple[DeliveryFailure, ...] = ()

    @property
    def delivered(self) -> bool:
        return not self.failures

    @property
    def retry_can_help(self) -> bool:
        return any(not failure.permanent for failure in self.failures)

    def failure_summary(self) -> str:
        """The failures in words (staff recipients and status codes, no patient data)."""
        total = len(self.sent) + len(self.already_sent) + len(self.failures)
        details = "; ".join(
            f"{f.target.channel} to {f.target.recipient} ({f.target.staff_id}): {f.reason}"
            + (" [refused for good]" if f.permanent else "")
            for f in self.failures
        )
        return f"{len(self.failures)} of {total} deliveries failed: {details}"


def missing_channels(directory: StaffDirectory, configured: set[ChannelKind]) -> list[str]:
    """What the directory's people need that is not configured, in words naming the setting to set."""
    problems = []
    if directory.uses_email and ChannelKind.EMAIL not in configured:
        problems.append(
            f"the staff directory ({directory.source}) lists e-mail addresses but no SMTP server is "
            "configured: set TRIALFLOW_SMTP_HOST"
        )
    if directory.uses_webhooks and ChannelKind.WEBHOOK not in configured:
        problems.append(
            f"the staff directory ({directory.source}) lists webhooks but no signing key is configured: "
            "set TRIALFLOW_WEBHOOK_SIGNING_KEY"
        )
    return problems


class Notifier:
    """Delivers notifications through the directory's people and the configured channels, once each."""

    def __init__(
        self,
        directory: StaffDirectory,
        ledger: DeliveryLedger,
        channels: Mapping[ChannelKind, Channel] | None = None,
    ) -> None:
        channels = dict(channels or {})
        problems = missing_channels(directory, set(channels))
        if problems:
            raise NotificationConfigurationError(problems)
        self._directory = directory
        self._ledger = ledger
        self._channels = channels

    @classmethod
    def log_only(cls, ledger: DeliveryLedger) -> Notifier:
        """No directory: every notification is recorded on the log channel only."""
        return cls(StaffDirectory(), ledger)

    @property
    def directory(self) -> StaffDirectory:
        return self._directory

    @property
    def ledger(self) -> DeliveryLedger:
        return self._ledger

    def close(self) -> None:
        for channel in self._channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                close()

    # ------------------------------------------------------------------ delivering

    def deliver(self, notification: Notification) -> DeliveryOutcome:
        """Send `notification` to every holder of its role on every channel the ledger does not show as sent."""
        sent: list[DeliveryTarget] = []
        already: list[DeliveryTarget] = []
        failures: list[DeliveryFailure] = []
        for delivery in plan_deliveries(notification, self._directory):
            target = delivery.target
            known = self._ledger.find(target)
            if known is not None and known.status is DeliveryStatus.SENT:
                already.append(target)
                continue
            if known is not None and known.permanent_failure:
                # Refused for good earlier: not sent again, but still a failure to escalate.
                failures.append(DeliveryFailure(target=target, reason=known.last_error or "refused", permanent=True))
                continue
            failure = self._send(notification, delivery)
            if failure is None:
                sent.append(target)
            else:
                failures.append(failure)
        return DeliveryOutcome(
            notification_key=notification.key, sent=tuple(sent), already_sent=tuple(already), failures=tuple(failures)
        )

    def _send(self, notification: Notification, delivery: PlannedDelivery) -> DeliveryFailure | None:
        target = delivery.target
        fields = {
            "channel": target.channel,
            "recipient": target.recipient,
            "staff_id": target.staff_id,
            "key": notification.key,
            "study_id": notification.study_id,
            "role": notification.role.value,
        }
        try:
            self._channels[delivery.channel].send(notification, delivery)
        except DeliveryError as error:
            reason, permanent = error.reason, error.permanent
        except Exception as error:  # a bug in a channel must not lose the ledger entry; its text may hold anything
            reason, permanent = f"unexpected {type(error).__name__}", False
            log.exception("notification channel error", **fields)
        else:
            self._ledger.record_sent(target)
            log.info("notification delivered", **fields)
            return None
        record = self._ledger.record_failure(target, reason, permanent=permanent)
        log.warning(
            "notification delivery failed", **fields, reason=reason, permanent=permanent, attempts=record.attempts
        )
        return DeliveryFailure(target=target, reason=reason, permanent=permanent)

    # ------------------------------------------------------------------ escalating

    def escalate(self, notification: Notification, failure_summary: str) -> tuple[Notification, DeliveryOutcome]:
        """`notification` could not be delivered: mark its failed deliveries escalated, and tell the role that
        covers for its role (the directory's [escalation] table, else the domain's default)."""
        covering_role = self._directory.escalation_role(notification.role)
        escalation = escalation_for(notification, failure_summary, to=covering_role)
        marked = self._ledger.mark_escalated(notification.key, escalation.key)
        # The log channel never fails: whatever happens below, the escalation is on record here.
        log.error(
            "notification escalated",
            channel="log",
            key=notification.key,
            escalation_key=escalation.key,
            study_id=notification.study_id,
            role=notification.role.value,
            escalated_to=escalation.role.value,
            failed_deliveries=marked,
            failure=failure_summary,
            subject=escalation.subject,
            body=escalation.body,
        )
        return escalation, self.deliver(escalation)
