"""The contracts of TrialWorkflow: its input (and what it carries across continue-as-new), admission."""

from __future__ import annotations

from domain.identifiers import StudyId
from domain.protocol import FrozenModel
from domain.trial.state import TrialState


class TrialInput(FrozenModel):
    trial_identifier: str
    carried: TrialState | None = None


class AdmissionRequest(FrozenModel):
    study_id: StudyId


class AdmissionResult(FrozenModel):
    study_id: StudyId
    admitted: bool
    reasons: tuple[str, ...] = ()  # every reason it was refused


def trial_workflow_id(trial_identifier: str) -> str:
    return f"trial-{trial_identifier}"
