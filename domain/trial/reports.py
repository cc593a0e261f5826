"""What journeys tell the trial, and what the DSMB decides: the trial's inputs, each with an id for idempotency."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field, model_validator

from domain.free_text import FreeText, Label
from domain.identifiers import StudyId
from domain.protocol import FrozenModel
from domain.roles import Actor
from domain.signature import Signature


class ReportKind(StrEnum):
    INFUSED = "infused"
    DOSE_LIMITING_TOXICITY = "dose_limiting_toxicity"
    # A correction removed the patient's DLT (a grade-3 CRS corrected to grade 2, a death's cause corrected).
    DLT_WITHDRAWN = "dlt_withdrawn"
    WINDOW_COMPLETED = "window_completed"  # the DLT observation window passed without a DLT
    EXITED = "exited"  # off study, or died, whatever the reason


class JourneyReport(FrozenModel):
    """One fact from one journey; `event_id` (the journey's study id and event sequence) makes it count once."""

    event_id: Label
    study_id: StudyId
    kind: ReportKind
    at: AwareDatetime


class DsmbOutcome(StrEnum):
    RESUME = "resume"
    RESUME_UNDER_AMENDMENT = "resume_under_amendment"
    STOP = "stop"


class DsmbDecision(FrozenModel):
    """The board's signed decision on a paused trial: only this moves the trial on after the rule fires."""

    kind: str = Field(default="dsmb_decision", pattern="^dsmb_decision$")
    decision_id: Label
    actor: Actor
    outcome: DsmbOutcome
    decided_at: AwareDatetime
    amendment_version: Label | None = None  # the protocol version enrollment resumes under
    rationale: FreeText
    signature: Signature | None = None

    @model_validator(mode="after")
    def _amendment_named_when_needed(self) -> DsmbDecision:
        needs = self.outcome is DsmbOutcome.RESUME_UNDER_AMENDMENT
        if needs != (self.amendment_version is not None):
            raise ValueError("an amendment version is given exactly when the decision resumes under an amendment")
        return self
