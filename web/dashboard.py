"""What the supervisor dashboard shows, gathered from the facade at one moment: patients by phase, overdue items,
open safety reports, the trial's enrollment state and stopping rule, the report (CR rate, survival), the slot
calendar, failed notifications and the record's verification."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

from domain.journey.phases import Phase
from domain.journey.status_view import PatientStatus, ReportView
from domain.roles import Role
from domain.site_time import site_date
from domain.slots import BookingStatus, SlotCalendarView
from domain.statistics import ProportionEstimate
from domain.trial.state import Enrollment
from domain.trial.status import TrialStatus
from facade import DeliveryRecord, PatientListing, TrialClient, TrialReport
from observability.logging import get_logger
from web.survival_chart import SurvivalDrawing, SurvivalSeries, drawing, series_of_report
from web.words import N_, PHASE_WORDS
from web.worklist import WorkItem, worklist_of

T = TypeVar("T")
_log = get_logger("web.dashboard")


@dataclass(frozen=True)
class OpenReport:
    study_id: str
    report: ReportView


@dataclass(frozen=True)
class CrAnalysis:
    """CR at one year in one analysis set: `name` a message of this module, the rate with its exact interval."""

    name: str
    cr_rate: ProportionEstimate
    pending: int  # not yet at the one-year assessment


PER_PROTOCOL: Final = N_("Infused patients (per protocol)")
INTENTION_TO_TREAT: Final = N_("Every enrolled patient (intention to treat)")


def cr_analyses(report: TrialReport) -> list[CrAnalysis]:
    """The report's CR analyses: the primary (intention to treat) first, then per protocol (infused patients)."""
    endpoint = report.primary_endpoint
    return [
        CrAnalysis(INTENTION_TO_TREAT, endpoint.intention_to_treat.cr_rate, endpoint.intention_to_treat.pending),
        CrAnalysis(PER_PROTOCOL, endpoint.per_protocol.cr_rate, endpoint.per_protocol.pending),
    ]


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    report: TrialReport
    trial: TrialStatus | None  # None: the trial's workflow did not answer (`trial_unanswered` says why)
    by_phase: list[tuple[Phase, list[PatientListing]]]
    overdue: list[WorkItem]
    open_reports: list[OpenReport]
    slots: SlotCalendarView
    failed_notifications: list[DeliveryRecord]
    cr: list[CrAnalysis]
    survival: list[tuple[SurvivalSeries, SurvivalDrawing | None]]  # none drawn: no patient to draw yet
    unreadable: list[str] = field(default_factory=list)  # journeys that could not answer just now
    # Temporal did not answer (a record kept from a server that is gone, or Temporal down): what needs the live
    # trial (enrollment state, journeys' due items and open reports) is said to be missing, the rest is the record's.
    trial_unanswered: str | None = None
    accrual_target: int = 0  # the protocol's, shown when the trial's workflow (which holds the site's) did not answer
    from_record: list[str] = field(default_factory=list)  # patients listed from the record: no journey listed here


def patients_by_phase(listings: list[PatientListing]) -> list[tuple[Phase, list[PatientListing]]]:
    """Every phase that holds a patient, in the protocol's order, each with its patients by study id."""
    grouped: dict[Phase, list[PatientListing]] = {}
    for listing in listings:
        grouped.setdefault(listing.phase or Phase.NOT_ENROLLED, []).append(listing)
    return [(phase, sorted(grouped[phase], key=lambda p: p.study_id)) for phase in PHASE_WORDS if phase in grouped]


async def current_dashboard(trial: TrialClient, now: datetime) -> Dashboard:
    """The dashboard at `now`: every read asked concurrently; a journey that cannot answer is named, not hidden.
    Patients the record holds but Temporal does not list are shown from the record; when Temporal does not answer
    at all, the report's figures (the record's) are still shown and what needs the live trial is said to be missing."""
    listed, report, trial_status, slots, failed, recorded = await asyncio.gather(
        _answer(trial.list_patients()),
        trial.report(),
        _answer(trial.trial_status()),
        trial.slots(),
        trial.failed_notifications(),
        trial.recorded_patients(),
    )
    listings = listed if isinstance(listed, list) else []
    shown = {listing.study_id for listing in listings}
    from_record = [listing for listing in recorded if listing.study_id not in shown]
    running = [listing.study_id for listing in listings if listing.running]
    answers = await asyncio.gather(*(trial.status(study_id) for study_id in running), return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException) and not isinstance(answer, Exception):
            raise answer  # cancelled: not a journey's problem
    statuses = [answer for answer in answers if isinstance(answer, PatientStatus)]
    today = site_date(now, trial.protocol.schedule)
    this_trial, not_asked = trial_of_this_record(trial_status, report)
    if not_asked is not None:
        _log.warning("dashboard_without_the_running_trial", reason=not_asked)
    return Dashboard(
        now=now,
        report=report,
        trial=this_trial,
        by_phase=patients_by_phase([*listings, *from_record]),
        overdue=worklist_of(statuses, Role.SUPERVISOR, today).overdue,
        open_reports=[OpenReport(s.study_id, r) for s in statuses for r in s.open_expedited_reports],
        slots=slots,
        failed_notifications=failed,
        cr=cr_analyses(report),
        survival=[(series, drawing(series)) for series in series_of_report(report)],
        unreadable=[study_id for study_id, a in zip(running, answers, strict=True) if isinstance(a, Exception)],
        trial_unanswered=not_asked,
        from_record=[listing.study_id for listing in from_record],
        accrual_target=trial.protocol.accrual.accrual_target_infused,
    )


def trial_of_this_record(answer: TrialStatus | Exception, report: TrialReport) -> tuple[TrialStatus | None, str | None]:
    """The trial workflow's status when it is this record's trial; otherwise None and why. A workflow that admitted
    nobody while the record holds enrolled patients is not theirs (the record was kept from a server that is gone,
    such as `trial-demo --record-url`'s, and a fresh trial runs here): its enrollment state would be another trial's.
    Admission comes before an enrollment is recorded, so the trial's own workflow never shows this."""
    if isinstance(answer, Exception):
        return None, f"the trial's workflow did not answer ({type(answer).__name__}: {answer})"
    if answer.admitted == 0 and report.enrollment.enrolled > 0:
        return (
            None,
            f"the trial's workflow here admitted nobody; the record holds {report.enrollment.enrolled} enrolled",
        )
    return answer, None


async def _answer(asked: Awaitable[T]) -> T | Exception:
    """What Temporal answers, or why it did not (unreachable, or a kept record's server gone): the dashboard shows
    the record's part without it."""
    try:
        return await asked
    except Exception as error:
        return error


ENROLLMENT_WORDS: Final = {
    Enrollment.OPEN: N_("open"),
    Enrollment.PAUSED: N_("paused by the safety stopping rule"),
    Enrollment.CLOSED: N_("closed"),
}
BOOKING_WORDS: Final = {
    BookingStatus.BOOKED: N_("booked"),
    BookingStatus.RELEASED: N_("released"),
    BookingStatus.FAILED: N_("manufacture failed"),
    BookingStatus.CANCELLED: N_("cancelled"),
}
