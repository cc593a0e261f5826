"""What supervisors read: one patient's status and timeline, lists of journeys, the trial report, the record's
verification and the notifications that did not arrive (the trial's own state and slot calendar: routes/trial.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.dependencies import Reader, StudyIdPath, TrialDep
from api.problems import problem_responses
from domain.identifiers import STUDY_ID_PATTERN
from domain.journey.phases import Phase
from domain.journey.status_view import PatientStatus
from facade import DeliveryRecord, PatientListing, Timeline, TrialReport, VerificationReport

router = APIRouter(tags=["supervisors"])
_READS = problem_responses(401, 404, 422, 503)


@router.get(
    "/patients/{study_id}",
    name="patient_status",
    response_model=PatientStatus,
    responses=_READS,
    summary="Where the patient stands now",
)
async def patient_status(study_id: StudyIdPath, _: Reader, client: TrialDep) -> PatientStatus:
    return await client.status(study_id)


@router.get(
    "/patients/{study_id}/timeline",
    response_model=Timeline,
    responses=_READS,
    summary="Every recorded event of the patient, oldest first",
)
async def timeline(study_id: StudyIdPath, _: Reader, client: TrialDep) -> Timeline:
    return await client.timeline(study_id)


@router.get(
    "/patients",
    response_model=list[PatientListing],
    responses=problem_responses(401, 422, 503),
    summary="Journeys matching every filter given (eventually consistent: a change shows within seconds)",
)
async def list_patients(
    _: Reader,
    client: TrialDep,
    phase: Phase | None = None,
    overdue: bool | None = None,
    expedited_report_open: Annotated[bool | None, Query()] = None,
) -> list[PatientListing]:
    return await client.list_patients(phase, overdue, expedited_report_open)


@router.get(
    "/report",
    response_model=TrialReport,
    responses=problem_responses(401, 503),
    summary="Enrollment, CR rate at one year (intention to treat and per protocol) with its 95 % CI, the secondary "
    "endpoints (EFS and OS by Kaplan-Meier, day-28 MRD-negativity, CRS/ICANS incidence), CRS/ICANS grades, stopping "
    "rule (verified patients only: `verification` names any left out)",
)
async def report(_: Reader, client: TrialDep) -> TrialReport:
    return await client.report()


@router.get(
    "/verify",
    response_model=VerificationReport,
    responses=problem_responses(401, 503),
    summary="Recompute the trial record's hash chain, compare every head with its journey's workflow and the last "
    "signed checkpoint, fold every summary again; report every problem",
)
async def verify(_: Reader, client: TrialDep) -> VerificationReport:
    return await client.verify()


@router.get(
    "/notifications/failed",
    response_model=list[DeliveryRecord],
    responses=problem_responses(401, 503),
    summary="Notifications that did not reach someone, most recent first (escalated or still retried)",
)
async def failed_notifications(
    _: Reader,
    client: TrialDep,
    study_id: Annotated[str | None, Query(pattern=STUDY_ID_PATTERN, description="Only this patient's")] = None,
) -> list[DeliveryRecord]:
    return await client.failed_notifications(study_id)
