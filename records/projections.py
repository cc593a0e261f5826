"""The supervisors' read models as the trial record returns them; always rebuilt from events, never edited."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import AwareDatetime, JsonValue

from domain.protocol import FrozenModel
from records.events import RecordedEvent

# The domain's folds as the store calls them: a patient's events -> its summary; all summaries -> the cohort.
PatientProjector = Callable[[str, Sequence[RecordedEvent]], dict[str, Any]]
CohortProjector = Callable[[Sequence[dict[str, Any]]], dict[str, Any]]

# The patient summary's key whose (string) value is indexed for lists by phase.
PHASE_KEY = "phase"


class PatientSummary(FrozenModel):
    study_id: str
    phase: str | None
    updated_through_sequence: int
    rebuilt_at: AwareDatetime
    summary: dict[str, JsonValue]


class SummaryWrite(FrozenModel):
    """A patient's summary folded by the caller through `through_sequence`, to be written with an append (in its
    transaction) or alone."""

    study_id: str
    summary: dict[str, Any]
    through_sequence: int


class CohortSummary(FrozenModel):
    """Counted from the patient summaries when asked; `rebuilt_at` is the newest summary's."""

    patient_count: int
    event_count: int
    rebuilt_at: AwareDatetime
    summary: dict[str, JsonValue]


class ProjectionRebuild(FrozenModel):
    """What one rebuild replaced: the patients re-projected from their events."""

    patients_rebuilt: int
    events_read: int
