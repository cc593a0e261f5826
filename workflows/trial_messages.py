"""The contracts of TrialWorkflow: its input (and what it carries across continue-as-new), admission."""

from __future__ import annotations

from activities.trial_reporting import TrialInput
from config.journey_ids import trial_workflow_id
from domain.identifiers import StudyId
from domain.protocol import FrozenModel

__all__ = ["AdmissionRequest", "AdmissionResult", "TrialInput", "trial_workflow_id"]


class AdmissionRequest(FrozenModel):
    study_id: StudyId


class AdmissionResult(FrozenModel):
    study_id: StudyId
    admitted: bool
    reasons: tuple[str, ...] = ()  # every reason it was refused
