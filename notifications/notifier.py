"""The notifier: routes a notification to people, sends it on each of their channels once, and keeps the ledger.

The log channel always records; e-mail and webhooks skip what the ledger shows as sent, each claimed before it is
sent. A channel failure is recorded and reported back, never raised: the activity decides whether Temporal retries."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Protocol

import structlog

from domain.journey.notifications import Notification, escalation_for
from domain.protocol import FrozenModel
from notifications.directory import StaffDirectory
from notifications.errors import DeliveryError, NotificationConfigurationError
from notifications.routing import ChannelKind, PlannedDelivery, plan_deliveries
from records.deliveries import DeliveryLedger, DeliveryStatus, DeliveryTarget

log = structlog.get_logger("trialflow.notifications")

# How long an attempt's claim on a delivery holds: longer than any one send can take (each channel's timeout is at
# most 60 s, config/settings.py), so a live sender is never overtaken; after it, a dead sender's delivery is taken
# over. Well inside the notify activity's 5 minutes, so an attempt can wait a claim out and still send.
CLAIM_LEASE = timedelta(minutes=2)
CLAIM_POLL = timedelta(seconds=0.2)


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
        *,
        claim_lease: timedelta = CLAIM_LEASE,
    ) -> None:
        channels = dict(channels or {})
        problems = missing_channels(directory, set(channels))
        if problems:
            raise NotificationConfigurationError(problems)
        self._directory = directory
        self._ledger = ledger
        self._channels = channels
        self._claim_lease = claim_lease

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

    def deliver(self, notification: Notification, attempt_id: str | None = None) -> DeliveryOutcome:
        """Send `notification` to every holder of its role on every channel the ledger does not show as sent. Each
        delivery is claimed for `attempt_id` (one notify activity attempt) before it is looked up and sent, so an
        attempt that outlived its timeout and the retry that followed never both send it."""
        attempt_id = attempt_id or f"notifier-{uuid.uuid4()}"
        sent: list[DeliveryTarget] = []
        already: list[DeliveryTarget] = []
        failures: list[DeliveryFailure] = []
        for delivery in plan_deliveries(notification, self._directory):
            target = delivery.target
            self._claim(target, attempt_id)
            try:
                known = self._ledger.find(target)
                if known is not None and known.status is DeliveryStatus.SENT:
                    already.append(target)
                    continue
                if known is not None and known.permanent_failure:
                    # Refused for good earlier: not sent again, but still a failure to escalate.
                    reason = known.last_error or "refused"
                    failures.append(DeliveryFailure(target=target, reason=reason, permanent=True))
                    continue
                failure = self._send(notification, delivery)
                if failure is None:
                    sent.append(target)
                else:
                    failures.append(failure)
            finally:
                self._ledger.release(target, attempt_id)
        return DeliveryOutcome(
            notification_key=notification.key, sent=tuple(sent), already_sent=tuple(already), failures=tuple(failures)
        )

    def _claim(self, target: DeliveryTarget, attempt_id: str) -> None:
        """Wait while another attempt holds the delivery (it is sending it now), at most until its lease ends."""
        while (holder := self._ledger.claim(target, attempt_id, self._claim_lease)) is not None:
            log.info(
                "notification delivery claimed by another attempt",
                key=target.notification_key,
                channel=target.channel,
                staff_id=target.staff_id,
                claimed_until=holder.claimed_until.isoformat(),
            )
            time.sleep(CLAIM_POLL.total_seconds())

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

    def escalate(
        self, notification: Notification, failure_summary: str, attempt_id: str | None = None
    ) -> tuple[Notification, DeliveryOutcome]:
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
        return escalation, self.deliver(escalation, attempt_id)
