"""The e-mail channel: one message per recipient over SMTP (STARTTLS or implicit TLS, optional login), with a
Message-ID derived from the notification key and the address, so a duplicate can be recognised downstream."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from pydantic import SecretStr

from domain.journey.notifications import Notification, Urgency
from notifications.errors import (
    DeliveryError,
    NotificationConfigurationError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifications.identity import message_id
from notifications.routing import ChannelKind, PlannedDelivery

NOTIFICATION_KEY_HEADER = "X-Trialflow-Notification"
URGENCY_HEADER = "X-Trialflow-Urgency"
_SERVER_TEXT_SHOWN = 120  # characters of an SMTP reply kept in an error (ledger, logs)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    starttls: bool = True  # upgrade the plain connection before anything else is sent
    implicit_tls: bool = False  # TLS from the first byte (usually port 465); excludes starttls
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "trialflow@localhost"
    timeout_seconds: float = 10.0
    ca_file: Path | None = None  # a private CA for the server's certificate; the system's CAs otherwise

    def __post_init__(self) -> None:
        if self.starttls and self.implicit_tls:
            raise ValueError("SMTP: choose STARTTLS or implicit TLS, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("SMTP: a user name needs its password, and a password its user name")


def build_message(notification: Notification, address: str, sender: str) -> EmailMessage:
    """The e-mail for one recipient: the notification's subject and body, and headers that identify it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = address
    message["Subject"] = notification.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(notification.key, address, sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message[NOTIFICATION_KEY_HEADER] = notification.key
    message[URGENCY_HEADER] = notification.urgency.value
    if notification.urgency is Urgency.IMMEDIATE:
        message["Importance"] = "high"
        message["X-Priority"] = "1"
    role = notification.role.value.replace("_", " ")
    message.set_content(
        f"{notification.body}\n\n-- \nTo the {role} of study patient {notification.study_id}, "
        f"urgency {notification.urgency.value}. Sent by trialflow; replies are not read.\n"
    )
    return message


class EmailChannel:
    """Sends over one SMTP server; a new connection per message (notifications are few, and this keeps no
    connection state between activity threads)."""

    kind = ChannelKind.EMAIL

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        try:
            self._tls = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
        except (ssl.SSLError, OSError) as error:
            raise NotificationConfigurationError(
                [f"TRIALFLOW_SMTP_CA_FILE {config.ca_file}: not a readable PEM certificate file ({error})"]
            ) from None

    @property
    def config(self) -> SmtpConfig:
        return self._config

    def send(self, notification: Notification, delivery: PlannedDelivery) -> None:
        message = build_message(notification, delivery.address, self._config.sender)
        try:
            self._send(message, delivery.address)
        except DeliveryError:
            raise
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()), (0, b""))
            raise _by_code("recipient refused", code, reply) from None
        except smtplib.SMTPResponseException as error:  # sender refused, data refused, authentication, ...
            raise _by_code(type(error).__name__, error.smtp_code, error.smtp_error) from None
        except smtplib.SMTPNotSupportedError:
            raise PermanentDeliveryError(
                f"SMTP server {self._where} does not offer STARTTLS (or AUTH): check the SMTP settings"
            ) from None
        except ssl.SSLCertVerificationError as error:
            raise PermanentDeliveryError(
                f"SMTP server {self._where}: its certificate is not trusted ({error.verify_message})"
            ) from None
        except (smtplib.SMTPException, OSError) as error:  # disconnected, refused, timed out, TLS broke
            raise TransientDeliveryError(f"SMTP server {self._where}: {type(error).__name__}: {error}") from None

    @property
    def _where(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    def _send(self, message: EmailMessage, address: str) -> None:
        config = self._config
        smtp: smtplib.SMTP
        if config.implicit_tls:
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_seconds, context=self._tls)
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
        with smtp:
            if config.starttls:
                smtp.starttls(context=self._tls)
            if config.username is not None and config.password is not None:
                smtp.login(config.username, config.password.get_secret_value())
            smtp.send_message(message, from_addr=config.sender, to_addrs=[address])


def _by_code(what: str, code: int, reply: bytes | str) -> DeliveryError:
    """SMTP replies: 5xx is a refusal for good, 4xx (and anything else) a try-again-later."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    reason = f"SMTP {code} {what}: {text[:_SERVER_TEXT_SHOWN]}".rstrip(": ")
    return PermanentDeliveryError(reason) if 500 <= code < 600 else TransientDeliveryError(reason)
