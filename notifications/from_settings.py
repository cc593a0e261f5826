"""The notifier a worker runs with, built from its settings: the staff directory and the channels it needs."""

from __future__ import annotations

from config.settings import Settings
from notifications.directory import StaffDirectory, load_staff_directory
from notifications.email_channel import EmailChannel, SmtpConfig
from notifications.errors import NotificationConfigurationError
from notifications.notifier import Channel, Notifier, missing_channels
from notifications.routing import ChannelKind
from notifications.webhook_channel import WebhookChannel
from records.deliveries import DeliveryLedger


def smtp_config(settings: Settings) -> SmtpConfig | None:
    """The SMTP server from the settings, or None when no host is set (no e-mail channel)."""
    if not settings.smtp_host:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls and not settings.smtp_implicit_tls,
        implicit_tls=settings.smtp_implicit_tls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        sender=settings.smtp_sender,
        timeout_seconds=settings.smtp_timeout_seconds,
        ca_file=settings.smtp_ca_file,
    )


def configured_channels(settings: Settings) -> set[ChannelKind]:
    kinds = set()
    if settings.smtp_host:
        kinds.add(ChannelKind.EMAIL)
    if settings.webhook_signing_key is not None and settings.webhook_signing_key.get_secret_value():
        kinds.add(ChannelKind.WEBHOOK)
    return kinds


def check_notification_settings(settings: Settings) -> StaffDirectory:
    """The staff directory, checked with the channels its people need, before anything starts: raises
    `NotificationConfigurationError` (a `StaffDirectoryError` for the file) naming every problem."""
    directory = load_staff_directory(settings.staff_directory)
    problems = missing_channels(directory, configured_channels(settings))
    if problems:
        raise NotificationConfigurationError(problems)
    return directory


def notifier_from_settings(settings: Settings, ledger: DeliveryLedger) -> Notifier:
    """Directory, channels and ledger as configured. Raises `NotificationConfigurationError` (a
    `StaffDirectoryError` for the file) naming every problem, before anything is sent."""
    directory = load_staff_directory(settings.staff_directory)
    channels: dict[ChannelKind, Channel] = {}
    kinds = configured_channels(settings)
    smtp = smtp_config(settings)
    if smtp is not None:
        channels[ChannelKind.EMAIL] = EmailChannel(smtp)
    if ChannelKind.WEBHOOK in kinds and settings.webhook_signing_key is not None:
        channels[ChannelKind.WEBHOOK] = WebhookChannel(
            settings.webhook_signing_key, timeout_seconds=settings.webhook_timeout_seconds
        )
    try:
        return Notifier(directory, ledger, channels)
    except Exception:
        for channel in channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                close()
        raise
