"""The webhook channel: a signed JSON POST per endpoint. The body's `text` is what chat tools (Slack, Mattermost,
Rocket.Chat, Google Chat) show; `notification` carries the structured fields for programs.

Every retry of a delivery has the same Idempotency-Key and a fresh signature (whose timestamp stops a replay)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib import metadata

import httpx
from pydantic import SecretStr

from domain.journey.notifications import Notification, Urgency
from notifications.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from notifications.identity import idempotency_key
from notifications.routing import ChannelKind, PlannedDelivery
from notifications.signing import SIGNATURE_HEADER, signature_header

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Statuses that mean "not now" rather than "never": request timeout, too early, too many requests.
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})


def _user_agent() -> str:
    try:
        return f"trialflow/{metadata.version('trialflow')}"
    except metadata.PackageNotFoundError:
        return "trialflow"


def webhook_body(notification: Notification, delivery_id: str) -> bytes:
    """The JSON body: chat text first, then the notification's fields; compact, UTF-8, keys in a fixed order."""
    marker = "[URGENT] " if notification.urgency is Urgency.IMMEDIATE else ""
    payload = {
        "text": f"{marker}{notification.subject}\n{notification.body}",
        "notification": {
            "key": notification.key,
            "delivery_id": delivery_id,
            "study_id": notification.study_id,
            "role": notification.role.value,
            "urgency": notification.urgency.value,
            "subject": notification.subject,
            "body": notification.body,
        },
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookChannel:
    """POSTs to each person's webhook URLs with one shared connection pool (thread-safe); `close()` at shutdown."""

    kind = ChannelKind.WEBHOOK

    def __init__(
        self,
        signing_key: SecretStr,
        *,
        timeout_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not signing_key.get_secret_value():
            raise ValueError("the webhook signing key is empty")
        self._signing_key = signing_key
        self._clock = clock
        # Redirects are not followed: a signed body goes only where the directory says.
        self._client = httpx.Client(timeout=timeout_seconds, follow_redirects=False, transport=transport)
        self._user_agent = _user_agent()

    def close(self) -> None:
        self._client.close()

    def send(self, notification: Notification, delivery: PlannedDelivery) -> None:
        delivery_id = idempotency_key(notification.key, delivery.recipient)
        body = webhook_body(notification, delivery_id)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": self._user_agent,
            IDEMPOTENCY_HEADER: delivery_id,
            SIGNATURE_HEADER: signature_header(self._signing_key, int(self._clock()), body),
        }
        where = delivery.recipient  # scheme, host and a digest: never the secret URL
        try:
            response = self._client.post(delivery.address, content=body, headers=headers)
        except httpx.TransportError as error:  # refused, reset, timed out, TLS failed
            raise TransientDeliveryError(f"webhook {where}: {type(error).__name__}") from None
        except httpx.HTTPError as error:
            raise PermanentDeliveryError(f"webhook {where}: {type(error).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        raise _by_status(where, status)


def _by_status(where: str, status: int) -> DeliveryError:
    reason = f"webhook {where}: HTTP {status}"
    if status >= 500 or status in _RETRYABLE_CLIENT_ERRORS:
        return TransientDeliveryError(reason)
    if 300 <= status < 400:
        return PermanentDeliveryError(reason + " (a redirect, not followed: put the final URL in the directory)")
    return PermanentDeliveryError(reason)
