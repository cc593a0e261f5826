"""The envelope the trial record stores, and what it answers: plain facts, no domain semantics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, Field, JsonValue, field_validator

from domain.identifiers import StudyId
from domain.protocol import FrozenModel
from records.hashing import canonical_json

# Identifiers in the envelope are plain tokens: they end up in indexes, logs and audit exports.
EVENT_TYPE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.:-]*$"
ACTOR_USER_ID_PATTERN = r"^[A-Za-z0-9._@-]+$"
ACTOR_ROLE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
PROTOCOL_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]*$"
REASON_MAX_LENGTH = 2000
# Control characters other than tab and line breaks: invisible on screen, and NUL is refused by PostgreSQL.
_UNPRINTABLE = frozenset(chr(code) for code in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


class RecordedEvent(FrozenModel):
    """One fact of one patient's journey, as the trial record keeps it. `(study_id, sequence)` is its key."""

    study_id: StudyId
    sequence: int = Field(ge=1)
    event_type: str = Field(min_length=1, max_length=100, pattern=EVENT_TYPE_PATTERN)
    occurred_at: AwareDatetime
    actor_user_id: str = Field(min_length=1, max_length=64, pattern=ACTOR_USER_ID_PATTERN)
    actor_role: str = Field(min_length=1, max_length=64, pattern=ACTOR_ROLE_PATTERN)
    protocol_version: str = Field(min_length=1, max_length=32, pattern=PROTOCOL_VERSION_PATTERN)
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    # Why the person made this correction or decision, in their words; None when they gave no reason.
    reason: str | None = Field(default=None, max_length=REASON_MAX_LENGTH)

    @field_validator("occurred_at")
    @classmethod
    def _stored_as_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("payload")
    @classmethod
    def _plain_json(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        try:
            canonical_json(value)
        except ValueError as error:  # NaN or infinity: not JSON, and not comparable
            raise ValueError(f"the payload must be plain JSON ({error})") from error
        return value

    @field_validator("reason")
    @classmethod
    def _reason_as_written(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # a blank reason is no reason: one spelling for "none given"
        if any(character in _UNPRINTABLE for character in value):
            raise ValueError("the reason contains an invisible control character; type it as plain text")
        return value  # as written: not trimmed, not normalized (the record keeps the person's words)

    @property
    def payload_json(self) -> str:
        return canonical_json(self.payload)

    def content(self) -> dict[str, Any]:
        """Every field in its stored spelling: two events are the same fact exactly when these are equal."""
        return {
            "study_id": self.study_id,
            "sequence": self.sequence,
            "event_type": self.event_type,
            "occurred_at": self.occurred_at.isoformat(timespec="microseconds"),
            "actor_user_id": self.actor_user_id,
            "actor_role": self.actor_role,
            "protocol_version": self.protocol_version,
            "payload": self.payload_json,
            "reason": self.reason,
        }


class EventKey(FrozenModel):
    """Where an event sits in the record, and the hash that seals it."""

    study_id: str
    sequence: int
    hash: str


class StoredEvent(FrozenModel):
    """An event as stored: the envelope plus when the record received it and its place in the hash chain."""

    event: RecordedEvent
    recorded_at: AwareDatetime
    previous_hash: str
    hash: str


class AppendResult(FrozenModel):
    """What one append did: events newly written, and events that were already there, identical."""

    recorded: tuple[EventKey, ...] = ()
    already_recorded: tuple[EventKey, ...] = ()


class ChainHead(FrozenModel):
    """The last event of a patient's chain: publish it elsewhere to detect a truncated record later."""

    study_id: str
    sequence: int
    hash: str
