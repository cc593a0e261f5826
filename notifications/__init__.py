"""Staff notifications over real channels: the staff directory (who holds each role), routing, the e-mail and
webhook channels, and the notifier that sends each delivery once and records it in the delivery ledger."""

from notifications.directory import (
    ADDRESSABLE_ROLES,
    StaffDirectory,
    StaffDirectoryError,
    StaffMember,
    load_staff_directory,
    parse_staff_directory,
)
from notifications.email_channel import EmailChannel, SmtpConfig
from notifications.errors import (
    DeliveryError,
    NotificationConfigurationError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifications.notifier import Channel, DeliveryFailure, DeliveryOutcome, Notifier
from notifications.routing import ChannelKind, PlannedDelivery, plan_deliveries
from notifications.signing import SIGNATURE_HEADER, signature_header, verify_signature
from notifications.webhook_channel import IDEMPOTENCY_HEADER, WebhookChannel

__all__ = [
    "ADDRESSABLE_ROLES",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "Channel",
    "ChannelKind",
    "DeliveryError",
    "DeliveryFailure",
    "DeliveryOutcome",
    "EmailChannel",
    "NotificationConfigurationError",
    "Notifier",
    "PermanentDeliveryError",
    "PlannedDelivery",
    "SmtpConfig",
    "StaffDirectory",
    "StaffDirectoryError",
    "StaffMember",
    "TransientDeliveryError",
    "WebhookChannel",
    "load_staff_directory",
    "parse_staff_directory",
    "plan_deliveries",
    "signature_header",
    "verify_signature",
]
