"""The envelope the trial record stores, and what it answers: plain facts, no domain semantics."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime

from domain.protocol import FrozenModel
from domain.record_limits import RecordEnvelope
from records.hashing import canonical_json


class RecordedEvent(RecordEnvelope):
    """One fact of one patient's journey, as the trial record keeps it. `(study_id, sequence)` is its key."""

    @property
    def payload_json(self) -> str:
        return canonical_json(self.payload)

    def columns(self) -> dict[str, Any]:
        """The event's columns as the table holds them, the payload as its canonical JSON text."""
        return {**self.model_dump(), "payload": self.payload_json}

    def content(self) -> dict[str, Any]:
        """Every field in its stored spelling: two events are the same fact exactly when these are equal."""
        return {**self.columns(), "occurred_at": self.occurred_at.isoformat(timespec="microseconds")}


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
    witness: str = "a published head"  # who holds it, in words: "the journey's workflow", "checkpoint 12 (...)"
