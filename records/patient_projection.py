"""A patient's summary as the domain folds it from their recorded events: what the append saves after each event,
and what verification folds again to check a stored summary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.journey import JourneyState, fold, initial_state
from domain.journey.views import patient_status
from domain.protocol import CURRENT_PROTOCOL, protocol_for_version
from records.event_rows import to_event
from records.events import RecordedEvent


def project_patient(study_id: str, events: Sequence[RecordedEvent]) -> dict[str, Any]:
    state = fold(initial_state(study_id), (to_event(e) for e in events))
    return summary_of(state, events[-1].occurred_at)


def summary_of(state: JourneyState, as_of: datetime) -> dict[str, Any]:
    """A patient's summary: their status as of their last event."""
    protocol = protocol_for_version(state.protocol_version or CURRENT_PROTOCOL.version)
    return {**patient_status(state, protocol, as_of).model_dump(mode="json"), "as_of": as_of.isoformat()}
