"""The trial's state: enrollment, who was admitted and infused, each patient's DLT evaluability."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, Field, SerializerFunctionWrapHandler, model_serializer

from domain.identifiers import StudyId
from domain.protocol import FrozenModel, StoppingRule
from domain.trial.reports import DsmbOutcome


class Enrollment(StrEnum):
    OPEN = "open"
    PAUSED = "paused"  # the stopping rule fired: only a signed DSMB decision moves on
    CLOSED = "closed"  # the accrual target was reached, or the DSMB stopped the trial


class Standing(StrEnum):
    """Where one admitted patient stands for the stopping rule."""

    NOT_INFUSED = "not_infused"
    PENDING = "pending"  # will become evaluable
    EVALUABLE = "evaluable"
    NEVER_EVALUABLE = "never_evaluable"


class PatientTally(FrozenModel):
    """One admitted patient as the stopping rule sees them."""

    study_id: StudyId
    infused_at: AwareDatetime | None = None
    dlt_at: AwareDatetime | None = None
    # When a correction last withdrew their DLT: a DLT report from before it (arriving late) is the withdrawn one.
    dlt_withdrawn_at: AwareDatetime | None = None
    window_completed: bool = False
    exited_at: AwareDatetime | None = None

    @model_serializer(mode="wrap")
    def _without_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Only what is set: the trial carries every admitted patient's tally into each new run, and written in full
        they made 1.7 MB at 10,000 patients, near Temporal's 2 MB limit on a payload."""
        written: dict[str, Any] = handler(self)
        return {name: value for name, value in written.items() if value is not None and value is not False}

    def window_ends_at(self, rule: StoppingRule) -> datetime | None:
        if self.infused_at is None:
            return None
        return self.infused_at + timedelta(days=rule.dlt_observation_window_days)

    def standing(self, now: datetime, rule: StoppingRule) -> Standing:
        """Evaluable at their DLT, or once the DLT observation window after infusion has passed (told, or by the
        clock); pending while infused, inside the window and on study; never evaluable if they left before it ended
        without a DLT."""
        settled = self.standing_without_the_clock(rule)
        if settled is not None:
            return settled
        ends = self.window_ends_at(rule)
        assert ends is not None  # the clock has a say in an infused patient's window only
        if now >= ends:
            return Standing.EVALUABLE
        return Standing.PENDING if self.exited_at is None else Standing.NEVER_EVALUABLE

    def standing_without_the_clock(self, rule: StoppingRule) -> Standing | None:
        """Their standing when the clock has no say in it; None when it has: infused, no DLT, the window's end not
        told and not left before it (evaluable from the window's end; until then pending while on study)."""
        if self.dlt_at is not None:
            return Standing.EVALUABLE
        ends = self.window_ends_at(rule)
        if ends is None:
            return Standing.NOT_INFUSED
        if self.exited_at is not None and self.exited_at < ends:
            return Standing.NEVER_EVALUABLE
        if self.window_completed:
            return Standing.EVALUABLE
        return None

    def evaluable(self, now: datetime, rule: StoppingRule) -> bool:
        return self.standing(now, rule) is Standing.EVALUABLE

    def pending(self, now: datetime, rule: StoppingRule) -> bool:
        """Infused, inside the window, still on study: will become evaluable."""
        return self.standing(now, rule) is Standing.PENDING

    def in_treatment(self) -> bool:
        """Admitted, not infused yet, still on study: takes a place against the accrual target."""
        return self.infused_at is None and self.exited_at is None


class DsmbRecord(FrozenModel):
    decision_id: str
    outcome: DsmbOutcome
    decided_by: str
    decided_at: AwareDatetime
    amendment_version: str | None = None


class TrialState(FrozenModel):
    trial_identifier: str
    enrollment: Enrollment = Enrollment.OPEN
    patients: dict[str, PatientTally] = Field(default_factory=dict)
    seen_event_ids: frozenset[str] = frozenset()
    # DLTs the DSMB has already weighed: after a resume only a further DLT can pause enrollment again.
    dlts_reviewed: int = Field(default=0, ge=0)
    paused_at: AwareDatetime | None = None
    closed_because: str | None = None
    protocol_version: str | None = None  # set when the DSMB resumes under an amendment
    decisions: tuple[DsmbRecord, ...] = ()
