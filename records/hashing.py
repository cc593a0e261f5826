"""Canonical JSON and the SHA-256 chain that makes every stored event tamper-evident.

The hashed document is plain JSON with sorted keys (`event_hash`), so any language can recompute it for an audit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.canonical_json import canonical_json

__all__ = ["GENESIS_HASH", "HASHED_COLUMNS", "HASH_FORMAT", "canonical_json", "event_hash", "utc_timestamp"]

GENESIS_HASH = "0" * 64  # the "previous hash" of each patient's first event
HASH_FORMAT = "trialflow.trial-event.v1"  # part of every hashed document, so a future format can coexist


def utc_timestamp(moment: datetime) -> str:
    """`2025-03-01T08:30:00.000000Z`: the one spelling of an instant inside the hash."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp {moment.isoformat()} has no time zone; the trial record needs one")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# The stored columns the hash covers; each is a key of the hashed document under its column name.
HASHED_COLUMNS = (
    "study_id",
    "sequence",
    "event_type",
    "occurred_at",
    "recorded_at",
    "actor_user_id",
    "actor_role",
    "protocol_version",
    "payload",
    "reason",
    "previous_hash",
)


# The hashed document: "format" and every HASHED_COLUMNS key, timestamps as UTC ISO-8601 with microseconds and a
# trailing Z, the payload as its stored canonical JSON text, the reason as its stored text (null when none was
# given); canonical JSON, encoded as UTF-8.
def event_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a stored row's every column (`payload` as its stored JSON text) and the previous hash."""
    document = {"format": HASH_FORMAT, **{column: row[column] for column in HASHED_COLUMNS}}
    document["occurred_at"] = utc_timestamp(row["occurred_at"])
    document["recorded_at"] = utc_timestamp(row["recorded_at"])
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()
