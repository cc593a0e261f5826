"""The trial record's limits on an event's envelope: one home, so the workflow refuses deterministically what the
record would refuse, and the record's columns are checked by the same rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, JsonValue, field_validator

from domain.identifiers import StudyId
from domain.protocol import FrozenModel

# Identifiers in the envelope are plain tokens: they end up in indexes, logs and audit exports.
EVENT_TYPE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.:-]*$"
EVENT_TYPE_MAX_LENGTH = 100
ACTOR_USER_ID_PATTERN = r"^[A-Za-z0-9._@-]+$"
ACTOR_USER_ID_MAX_LENGTH = 64
ACTOR_ROLE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
ACTOR_ROLE_MAX_LENGTH = 64
PROTOCOL_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]*$"
PROTOCOL_VERSION_MAX_LENGTH = 32
REASON_MAX_LENGTH = 2000
# Control characters other than tab and line breaks: invisible on screen, and NUL is refused by PostgreSQL.
UNPRINTABLE = frozenset(chr(code) for code in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])

EventTypeName = Annotated[str, Field(min_length=1, max_length=EVENT_TYPE_MAX_LENGTH, pattern=EVENT_TYPE_PATTERN)]
ActorUserId = Annotated[str, Field(min_length=1, max_length=ACTOR_USER_ID_MAX_LENGTH, pattern=ACTOR_USER_ID_PATTERN)]
ActorRoleName = Annotated[str, Field(min_length=1, max_length=ACTOR_ROLE_MAX_LENGTH, pattern=ACTOR_ROLE_PATTERN)]
ProtocolVersionName = Annotated[
    str, Field(min_length=1, max_length=PROTOCOL_VERSION_MAX_LENGTH, pattern=PROTOCOL_VERSION_PATTERN)
]


def reason_as_written(value: str | None) -> str | None:
    """A reason as the record keeps it: blank is none, an invisible control character is refused."""
    if value is None or not value.strip():
        return None  # a blank reason is no reason: one spelling for "none given"
    if any(character in UNPRINTABLE for character in value):
        raise ValueError("the reason contains an invisible control character; type it as plain text")
    return value  # as written: not trimmed, not normalized (the record keeps the person's words)


def plain_json_object(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """`value` unchanged when it is plain JSON; NaN or infinity are not JSON, and not comparable."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as error:
        raise ValueError(f"the payload must be plain JSON ({error})") from error
    return value


RecordReason = Annotated[str | None, Field(max_length=REASON_MAX_LENGTH), AfterValidator(reason_as_written)]
PlainJsonObject = Annotated[dict[str, JsonValue], AfterValidator(plain_json_object)]


class RecordEnvelope(FrozenModel):
    """One event as the trial record spells it (flat, the payload as plain JSON), every field within its limits."""

    study_id: StudyId
    sequence: int = Field(ge=1)
    event_type: EventTypeName
    occurred_at: AwareDatetime
    actor_user_id: ActorUserId
    actor_role: ActorRoleName
    protocol_version: ProtocolVersionName
    payload: PlainJsonObject = Field(default_factory=dict)
    # Why the person made this correction or decision, in their words; None when they gave no reason.
    reason: RecordReason = None

    @field_validator("occurred_at")
    @classmethod
    def _stored_as_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)
