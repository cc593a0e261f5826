"""A journey event in the trial record's flat spelling, and why the record would refuse it.

A signed entry's signature is stored in the payload under one reserved key (`SIGNATURE_KEY`), beside the event's
own fields: the payload is what the record's hash chain covers, so the signature is inside the chain as it is."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from domain.journey.events import Event
from domain.record_limits import RecordEnvelope
from domain.signature import Signature

SIGNATURE_KEY = "signature"  # no event payload has a field of this name (tests/records/test_event_rows.py)


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
        "payload": stored_payload(event),
        "reason": event.reason,
    }


def record_limit_problems(event: Event) -> list[str]:
    """Why the trial record would refuse `event`, one sentence per problem; empty when it accepts it."""
    try:
        RecordEnvelope.model_validate(envelope_fields(event))
    except ValidationError as error:
        return list(dict.fromkeys(issue["msg"].removeprefix("Value error, ") for issue in error.errors()))
    return []


def stored_payload(event: Event) -> dict[str, Any]:
    """The event's payload as the record keeps it: its fields, and its signature when it was signed."""
    payload: dict[str, Any] = event.payload.model_dump(mode="json")
    if event.signature is not None:
        payload[SIGNATURE_KEY] = event.signature.model_dump(mode="json")
    return payload


def split_stored_payload(stored: dict[str, Any]) -> tuple[dict[str, Any], Signature | None]:
    """A stored payload as the event's own fields and its signature (None when the entry was not signed)."""
    fields = dict(stored)
    signature = fields.pop(SIGNATURE_KEY, None)
    return fields, Signature.model_validate(signature) if signature is not None else None
