"""`POST /patients`: operators enroll a screened patient."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import Field

from api.dependencies import TrialDep, Writer
from api.idempotency import IdempotencyKeyHeader, answered_once, request_fingerprint
from api.problems import problem_responses
from domain.eligibility import NewScreening
from domain.identifiers import StudyId
from domain.journey.commands import EnrollPatient
from domain.protocol import FrozenModel
from facade import EnrollmentResult

router = APIRouter(tags=["operators"])


class EnrollmentRequest(FrozenModel):
    """A patient screened for the trial: eligibility is decided from the screening data."""

    study_id: StudyId = Field(description="The study id the patient is enrolled under, e.g. TF-001")
    screening: NewScreening


@router.post(
    "/patients",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollmentResult,
    responses=problem_responses(401, 403, 409, 413, 422, 503),
    summary="Enroll a screened patient (a screen failure is enrolled too, with every failed criterion)",
)
async def enroll(
    body: EnrollmentRequest,
    who: Writer,
    client: TrialDep,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    command = EnrollPatient(actor=who, study_id=body.study_id, screening=body.screening)

    async def run() -> EnrollmentResult:
        return await client.enroll(command)

    location = str(request.url_for("patient_status", study_id=body.study_id).path)
    fingerprint = request_fingerprint("enroll", body.study_id, body)
    return await answered_once(
        request, client, who, idempotency_key, fingerprint, run, status.HTTP_201_CREATED, {"Location": location}
    )
