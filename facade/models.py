"""What the trial client answers: the JSON contract shared by the CLI and the HTTP API."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from domain.eligibility import FailedCriterion
from domain.journey.phases import ExitReason, Phase
from domain.protocol import FrozenModel
from domain.statistics import ProportionEstimate, StoppingRuleStatus
from workflows.journey_messages import TimelineEntry


class EnrollmentResult(FrozenModel):
    """A journey started: eligible patients go on to the investigator's confirmation, screen failures end."""

    study_id: str
    workflow_id: str
    eligible: bool
    failed_criteria: tuple[FailedCriterion, ...]
    phase: Phase
    screening_attempt: int = 1  # 2 and on: a screen failure screened again under the same study id


class Timeline(FrozenModel):
    """Every recorded event of one patient, oldest first: from the workflow while it runs, else the record."""

    study_id: str
    source: Literal["workflow", "record"]
    entries: tuple[TimelineEntry, ...]


class PatientListing(FrozenModel):
    """One journey as Temporal's visibility index has it (eventually consistent, kept until retention)."""

    study_id: str
    workflow_id: str
    running: bool
    phase: Phase | None
    next_due_on: date | None
    overdue: bool
    expedited_report_open: bool
    highest_crs_grade: int
    highest_icans_grade: int
    protocol_version: str | None


class EnrollmentSummary(FrozenModel):
    """Screened, screen failures, enrolled and infused are counted apart: a screen failure is never enrolled."""

    patients: int = Field(ge=0)  # every study id screened, screen failures included (as `screened`)
    by_phase: dict[Phase, int]  # every phase a journey can be in, zeros included
    screen_failures: int = Field(ge=0)  # patients whose latest screening failed
    exits_by_reason: dict[ExitReason, int]
    screened: int = Field(default=0, ge=0)  # patients screened (once or more)
    screening_attempts: int = Field(default=0, ge=0)  # screenings, re-screenings of a screen failure included
    enrolled: int = Field(default=0, ge=0)  # eligibility confirmed by the investigator
    infused: int = Field(default=0, ge=0)
    # Every patient by the protocol version they follow now (a re-consented one under the amendment they moved onto).
    by_protocol_version: dict[str, int] = Field(default_factory=dict)


class EndpointAnalysis(FrozenModel):
    """CR at one year in one analysis set, among its patients whose one-year outcome is known."""

    patients: int = Field(ge=0)  # the analysis set
    assessed: int = Field(ge=0)  # with the one-year outcome known (relapses, deaths and departures fail)
    complete_responses: int = Field(ge=0)
    pending: int = Field(ge=0)  # not yet at the one-year assessment
    cr_rate: ProportionEstimate  # complete_responses / assessed, exact Clopper-Pearson interval


class PrimaryEndpointReport(FrozenModel):
    """CR at one year: the primary analysis by intention to treat (every enrolled patient; leaving before the
    infusion is a failure) and the per-protocol analysis (infused patients) beside it."""

    intention_to_treat: EndpointAnalysis
    per_protocol: EndpointAnalysis


class SurvivalPoint(FrozenModel):
    """The Kaplan-Meier estimate from `day` (after infusion) on, with its pointwise confidence interval."""

    day: float = Field(ge=0.0)
    survival: float = Field(ge=0.0, le=1.0)
    ci_low: float = Field(ge=0.0, le=1.0)
    ci_high: float = Field(ge=0.0, le=1.0)
    at_risk: int = Field(ge=0)


class SurvivalEstimate(FrozenModel):
    """A Kaplan-Meier curve from infusion (lifelines; exponential Greenwood confidence interval)."""

    patients: int = Field(ge=0)
    events: int = Field(ge=0)
    censored: int = Field(ge=0)
    confidence: float = Field(gt=0.0, lt=1.0)
    curve: tuple[SurvivalPoint, ...]  # a step function, from day 0; empty with no patient
    landmarks: tuple[SurvivalPoint, ...]  # the estimate at the protocol's landmark days (within follow-up)
    median_days: float | None  # None: not reached


class SecondaryEndpoints(FrozenModel):
    """Event-free (relapse of any kind, death) and overall survival from infusion; day-28 MRD-negativity; CRS
    and ICANS incidence, any grade and severe; each rate with its exact Clopper-Pearson interval."""

    event_free_survival: SurvivalEstimate
    overall_survival: SurvivalEstimate
    mrd_negative_at_day_28: ProportionEstimate  # among infused patients past the evaluation (missed: not negative)
    crs_any_grade: ProportionEstimate
    crs_severe: ProportionEstimate  # grade >= the protocol's severe grade
    icans_any_grade: ProportionEstimate
    icans_severe: ProportionEstimate
    severe_min_grade: int = Field(ge=1)
    molecular_recurrences: int = Field(ge=0)  # confirmed; not an event-free-survival event


class ToxicitySummary(FrozenModel):
    """Each infused patient counted once, at their highest grade (0: none)."""

    patients: int = Field(ge=0)
    highest_crs_grade: dict[int, int]
    highest_icans_grade: dict[int, int]
    dose_limiting_toxicities: int = Field(ge=0)


class ExcludedPatient(FrozenModel):
    """A patient the report leaves out because their record or summary failed verification."""

    study_id: str
    problems: tuple[str, ...]


class ReportVerification(FrozenModel):
    """What the report was built from: only patients whose chain and summary verified; the others named."""

    verified: bool = True  # False: some patients are left out, or the check could not be made in full
    excluded: tuple[ExcludedPatient, ...] = ()
    warning: str | None = None  # shown above the report when anything failed


class TrialReport(FrozenModel):
    """The trial as a whole, computed from the permanent trial record's patient summaries."""

    protocol_version: str
    enrollment: EnrollmentSummary
    primary_endpoint: PrimaryEndpointReport
    toxicity: ToxicitySummary
    stopping_rule: StoppingRuleStatus
    secondary_endpoints: SecondaryEndpoints
    verification: ReportVerification = ReportVerification()  # the patients left out: their record failed
