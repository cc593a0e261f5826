"""The shape of a patient's status as supervisors and staff see it (`PatientStatus`), apart from how it is worked out
(domain/journey/views.py): whoever only reads a status, as `trial status` does, needs these models and not the
journey's events and state. Two entries of the journey's state live here because a status shows them as they are
(`ExitRecord`, `SignedEntry`). No PHI."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from domain.dosing import ProductClassification
from domain.journey.phases import ExitReason, Phase
from domain.protocol import FrozenModel
from domain.roles import Role
from domain.schedule import VisitStatus
from domain.signature import Signature

PrimaryEndpoint = Literal["cr", "not_cr", "pending", "not_evaluable"]
MrdEvaluation = Literal["negative", "positive", "not_done", "pending"]
DayStatus = Literal["done", "due", "late", "missed", "upcoming"]


class ExitRecord(FrozenModel):
    reason: ExitReason
    on: date
    details: str


class SignedEntry(FrozenModel):
    """An entry made with an electronic signature: the first event it recorded, and the signature's manifestation."""

    sequence: int
    event_type: str
    signature: Signature


class DueItem(FrozenModel):
    code: str
    what: str
    responsible: Role
    due_on: date | None = None
    window_opens: date | None = None
    window_closes: date | None = None
    overdue: bool = False


class VisitView(FrozenModel):
    code: str
    label: str
    target_date: date
    window_opens: date
    window_closes: date
    status: VisitStatus
    done_on: date | None


class DailyMonitoringDay(FrozenModel):
    """One site day of daily CRS/ICANS monitoring and where each assessment stands."""

    day_number: int
    on: date
    crs: DayStatus
    icans: DayStatus


class CustodyView(FrozenModel):
    """Where the cells are now: their last hand-off, since when, and what holds their infusion."""

    step: str  # collected, shipped_to_manufacturer, ..., released, ..., thawed, infused
    where: str  # in words
    since: datetime | date  # the hand-off's time (collection and release keep their day)
    hold: str | None = None  # why the infusion is held, if it is


class ReportView(FrozenModel):
    report_id: str
    reasons: tuple[str, ...]
    due_at: datetime
    overdue: bool
    aware_at: datetime | None = None  # the clock's start: when the site became aware


class GradingView(FrozenModel):
    """A patient's worst current CRS or ICANS entry: its grade and the reasons that set it."""

    sequence: int
    assessed_at: datetime
    grade: int
    reasons: tuple[str, ...]


class PatientStatus(FrozenModel):
    """One patient as supervisors see them. Identified by study id only."""

    study_id: str
    protocol_version: str
    phase: Phase
    chain_of_identity: str | None
    failed_criteria: tuple[str, ...]
    bsa_m2: float | None
    prescribed_daily_mg: dict[str, float]
    doses_given: tuple[str, ...]
    product_classification: ProductClassification | None
    infused_on: date | None
    cells_per_kg: float | None
    deviations: tuple[str, ...]
    highest_crs_grade: int
    highest_icans_grade: int
    worst_crs: GradingView | None = None
    worst_icans: GradingView | None = None
    open_expedited_reports: tuple[ReportView, ...]
    due: tuple[DueItem, ...]
    next_due: DueItem | None
    overdue: bool
    visits: tuple[VisitView, ...]
    relapse_on: date | None
    exit: ExitRecord | None
    dose_limiting_toxicity: bool
    primary_endpoint: PrimaryEndpoint
    last_sequence: int
    signatures: tuple[SignedEntry, ...] = ()  # the signed entries: who signed, when (UTC offset), what it meant
    screening_attempt: int = 1  # a screen failure may be screened again under the same study id
    # Enrolled: eligibility confirmed by the investigator (a screen failure never is). None in summaries stored
    # before it was kept: the report then judges by the phase.
    enrolled: bool | None = None
    custody: CustodyView | None = None  # None before the collection

    # The latest collection's slot in the site's calendar and its product's expected release (None: not booked).
    collection_booked_on: date | None = None
    expected_release: date | None = None
    # Why the site's calendar booked no slot for the next collection (None: booked, or not yet asked).
    slot_not_booked_because: str | None = None
    # The DSMB stopped the trial while this patient was on study: when, by which decision (None: it did not).
    trial_stopped_on: date | None = None
    trial_stopped_by_decision: str | None = None
    # Amendments: the version re-consented to and not yet moved onto, and those the family declined.
    protocol_pending: str | None = None
    protocol_declined: tuple[str, ...] = ()

    # The secondary endpoints' data (defaults: summaries stored before they were kept).
    mrd_evaluation: MrdEvaluation | None = None  # the day-28 MRD evaluation; None before infusion
    molecular_recurrence_on: date | None = None  # confirmed molecular recurrence (not a relapse)
    died_on: date | None = None
    last_contact_on: date | None = None  # after infusion: what survival is censored at
    # Daily CRS/ICANS monitoring from day 0 to the protocol's last day (empty before infusion, or for a journey
    # infused before it was tracked).
    daily_monitoring: tuple[DailyMonitoringDay, ...] = ()
