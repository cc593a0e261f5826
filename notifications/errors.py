"""Why a delivery or the notification configuration failed. Messages name staff recipients and status codes,
never patient data: they end up in the delivery ledger, in logs and in escalation messages."""

from __future__ import annotations

from config.errors import ConfigurationError


class DeliveryError(Exception):
    """One delivery failed. `permanent`: the channel refused it and a retry cannot help (HTTP 4xx, SMTP 5xx)."""

    permanent = False

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TransientDeliveryError(DeliveryError):
    """The channel is away or busy (connection refused, timeout, HTTP 5xx, SMTP 4xx): retry later."""


class PermanentDeliveryError(DeliveryError):
    """The channel refused the message for good, or is misconfigured: escalate, do not retry."""

    permanent = True


class NotificationConfigurationError(ConfigurationError):
    """The staff directory or the channel settings cannot work; the message names every problem."""

    def __init__(self, problems: list[str], source: str = "notification settings") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"invalid {source}:\n  " + "\n  ".join(problems))
