"""Stable identities of one delivery (a notification to one recipient): the same on every retry, so the receiver
can drop a duplicate the ledger could not prevent (a crash between sending and recording)."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

# Message-ID domain when the sender address has none usable; `.invalid` never resolves (RFC 2606).
FALLBACK_MESSAGE_ID_DOMAIN = "trialflow.invalid"


def delivery_digest(notification_key: str, recipient: str) -> str:
    """Hex SHA-256 of the notification key and the recipient: the seed of the Message-ID and Idempotency-Key."""
    return hashlib.sha256(f"{notification_key}\n{recipient}".encode()).hexdigest()


def message_id(notification_key: str, recipient: str, sender: str) -> str:
    """An RFC 5322 Message-ID for this notification to this address, in the sender's domain."""
    domain = sender.rpartition("@")[2].strip(" <>") or FALLBACK_MESSAGE_ID_DOMAIN
    return f"<{delivery_digest(notification_key, recipient)[:40]}@{domain}>"


def idempotency_key(notification_key: str, recipient: str) -> str:
    """The webhook's Idempotency-Key header for this notification to this endpoint."""
    return delivery_digest(notification_key, recipient)


def webhook_label(url: str) -> str:
    """How the ledger, the logs and escalations name a webhook: scheme, host and port, and a digest of the full
    URL, since the URL's path is often the webhook's secret."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}#{hashlib.sha256(url.encode()).hexdigest()[:12]}"
