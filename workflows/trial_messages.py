"""The contracts of TrialWorkflow: its input (and what it carries across continue-as-new), admission."""

from __future__ import annotations

from pydantic import Field

from activities.trial_reporting import TrialInput
from config.journey_ids import trial_workflow_id
from domain.identifiers import StudyId
from domain.protocol import FrozenModel

__all__ = [
    "AdmissionBatch",
    "AdmissionRequest",
    "AdmissionResult",
    "AdmissionResults",
    "GateMemo",
    "TrialInput",
    "trial_workflow_id",
]


class AdmissionRequest(FrozenModel):
    study_id: StudyId


class AdmissionResult(FrozenModel):
    study_id: StudyId
    admitted: bool
    reasons: tuple[str, ...] = ()  # every reason it was refused


class AdmissionBatch(FrozenModel):
    """Admissions that waited while others were in flight, asked in one update and decided in this order: one
    workflow task for many, where Temporal serializes one workflow's updates (docs/performance.md)."""

    study_ids: tuple[StudyId, ...] = Field(min_length=1)


class AdmissionResults(FrozenModel):
    results: tuple[AdmissionResult, ...]  # in the batch's order


class GateMemo(FrozenModel):
    """What the trial publishes in its memo for the lymphodepletion gate (TrialWorkflow.GATE_MEMO)."""

    refused_because: str | None  # why no new lymphodepletion may start now; None: it may
