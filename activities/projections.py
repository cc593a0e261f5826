"""Supervisors' read models, folded from the trial record's events by the domain: never edited by hand.

A patient's summary is their status as of their last recorded event; the cohort's is counted from the summaries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from domain.journey import fold, initial_state
from domain.journey.events import Event, EventPayload
from domain.journey.views import patient_status
from domain.protocol import CURRENT_PROTOCOL, protocol_for_version
from domain.roles import Actor, Role
from records import RecordedEvent

_PAYLOAD = TypeAdapter[EventPayload](EventPayload)


def domain_event(recorded: RecordedEvent) -> Event:
    """A stored event read back as the domain's fact."""
    return Event(
        study_id=recorded.study_id,
        sequence=recorded.sequence,
        occurred_at=recorded.occurred_at,
        actor=Actor(user_id=recorded.actor_user_id, role=Role(recorded.actor_role)),
        protocol_version=recorded.protocol_version,
        reason=recorded.reason,
        payload=_PAYLOAD.validate_python(recorded.payload),
    )


def project_patient(study_id: str, events: Sequence[RecordedEvent]) -> dict[str, Any]:
    state = fold(initial_state(study_id), (domain_event(e) for e in events))
    protocol = protocol_for_version(state.protocol_version or CURRENT_PROTOCOL.version)
    as_of = events[-1].occurred_at
    return {**patient_status(state, protocol, as_of).model_dump(mode="json"), "as_of": as_of.isoformat()}


def project_cohort(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "patients": len(summaries),
        "by_phase": dict(Counter(s["phase"] for s in summaries)),
        "infused": sum(1 for s in summaries if s["infused_on"] is not None),
        "dose_limiting_toxicities": sum(1 for s in summaries if s["dose_limiting_toxicity"]),
        "primary_endpoint": dict(Counter(s["primary_endpoint"] for s in summaries)),
        "open_expedited_reports": sum(len(s["open_expedited_reports"]) for s in summaries),
        "overdue": sum(1 for s in summaries if s["overdue"]),
    }
