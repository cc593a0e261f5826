"""HMAC-SHA256 signatures of webhook bodies, in the style of Stripe and Slack: the receiver checks that the body
came from trialflow and is recent.

Header: `X-Trialflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>." + body)>`."""

from __future__ import annotations

import hashlib
import hmac
import time

from pydantic import SecretStr

SIGNATURE_HEADER = "X-Trialflow-Signature"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300  # a captured request cannot be replayed later than this


def _key_bytes(key: str | bytes | SecretStr) -> bytes:
    if isinstance(key, SecretStr):
        key = key.get_secret_value()
    return key.encode() if isinstance(key, str) else key


def signature(key: str | bytes | SecretStr, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>`."""
    return hmac.new(_key_bytes(key), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(key: str | bytes | SecretStr, timestamp: int, body: bytes) -> str:
    """The value of the X-Trialflow-Signature header for `body`, signed at `timestamp` (unix seconds)."""
    return f"t={timestamp},{SIGNATURE_VERSION}={signature(key, timestamp, body)}"


def verify_signature(
    key: str | bytes | SecretStr,
    header: str | None,
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when `header` is a valid X-Trialflow-Signature of `body` under `key`, made within
    `tolerance_seconds` of `now` (the current time by default). Compare in constant time; any malformed header
    is simply not valid."""
    if not header:
        return False
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    timestamps = fields.get("t", [])
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = signature(key, timestamp, body)
    # Several v1 values are allowed (a receiver may see one per key while keys are rotated).
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get(SIGNATURE_VERSION, []))
