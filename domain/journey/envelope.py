"""A journey event in the trial record's flat spelling, and why the record would refuse it."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from domain.journey.events import Event
from domain.record_limits import RecordEnvelope


def envelope_fields(event: Event) -> dict[str, Any]:
    """The event's fields in the record's spelling, unchecked: the one place a domain event is flattened."""
    return {
        "study_id": event.study_id,
        "sequence": event.sequence,
        "event_type": event.type,
        "occurred_at": event.occurred_at,
        "actor_user_id": event.actor.user_id,
        "actor_role": event.actor.role.value,
        "protocol_version": event.protocol_version,
        "payload": event.payload.model_dump(mode="json"),
        "reason": event.reason,
    }


def record_limit_problems(event: Event) -> list[str]:
    """Why the trial record would refuse `event`, one sentence per problem; empty when it accepts it."""
    try:
        RecordEnvelope.model_validate(envelope_fields(event))
    except ValidationError as error:
        return list(dict.fromkeys(issue["msg"].removeprefix("Value error, ") for issue in error.errors()))
    return []
