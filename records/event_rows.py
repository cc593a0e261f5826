"""The one mapper between the domain's events and the trial record's rows: a domain `Event` to a `RecordedEvent`
and back, and a `RecordedEvent` to the table's columns and back (with its place in the hash chain)."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from domain.journey.envelope import envelope_fields, split_stored_payload
from domain.journey.events import Event, EventPayload
from domain.roles import Actor, Role
from records.events import RecordedEvent, StoredEvent
from records.hashing import event_hash
from records.schema import trial_events
from records.verification import ChainRow

if TYPE_CHECKING:
    from typing import TypeAlias

    from sqlalchemy import Row

    AnyRow: TypeAlias = Row[*tuple[Any, ...]]

_PAYLOAD = TypeAdapter[EventPayload](EventPayload)


def _column(chain_row_field: str) -> str:
    return "id" if chain_row_field == "row_id" else chain_row_field  # the storage position


# Every column of a stored event: what a chain row and a stored event are read from.
EVENT_COLUMNS = tuple(trial_events.c[_column(field.name)] for field in fields(ChainRow))


def to_row(event: Event) -> RecordedEvent:
    """The row the trial record keeps of `event`; pydantic's ValidationError when the record's limits refuse it."""
    return RecordedEvent.model_validate(envelope_fields(event))


def to_event(row: RecordedEvent) -> Event:
    """A stored row read back as the domain's fact."""
    payload, signature = split_stored_payload(row.payload)
    return Event(
        study_id=row.study_id,
        sequence=row.sequence,
        occurred_at=row.occurred_at,
        actor=Actor(user_id=row.actor_user_id, role=Role(row.actor_role)),
        protocol_version=row.protocol_version,
        reason=row.reason,
        signature=signature,
        payload=_PAYLOAD.validate_python(payload),
    )


def as_read_back(event: Event) -> Event:
    """`event` as the record gives it back: its payload through the stored canonical JSON (keys in order), so a state
    folded from it is the state a fold of the record gives."""
    row = to_row(event)
    return to_event(row.model_copy(update={"payload": json.loads(row.payload_json)}))


def table_values(event: RecordedEvent, *, recorded_at: datetime, previous_hash: str) -> dict[str, Any]:
    """The values to insert for `event`, chained to `previous_hash` and sealed with its own hash."""
    values = {**event.columns(), "recorded_at": recorded_at, "previous_hash": previous_hash}
    return {**values, "hash": event_hash(values)}


def chain_row(row: AnyRow) -> ChainRow:
    """A row selected with EVENT_COLUMNS, exactly as stored (the payload as its text)."""
    columns = row._mapping
    return ChainRow(**{field.name: columns[_column(field.name)] for field in fields(ChainRow)})


def stored_event(row: AnyRow) -> StoredEvent:
    """A row selected with EVENT_COLUMNS as the event it holds, with its place in the hash chain."""
    columns = row._mapping
    event = RecordedEvent.model_validate(
        {name: columns[name] for name in RecordedEvent.model_fields} | {"payload": json.loads(columns["payload"])}
    )
    return StoredEvent(
        event=event, recorded_at=columns["recorded_at"], previous_hash=columns["previous_hash"], hash=columns["hash"]
    )
