"""`POST /patients/{study_id}/commands`: staff record a step of a patient's journey (the `kind` names it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response

from api.command_requests import CommandRequest, signature_request, staff_command
from api.dependencies import BearerCredentials, StudyIdPath, TrialDep, Writer, credential_printed_name
from api.idempotency import IdempotencyKeyHeader, answered_once, request_fingerprint
from api.problems import problem_responses
from facade.signing import SigningRequest
from workflows.journey_messages import RecordResult

router = APIRouter(tags=["staff"])


@router.post(
    "/patients/{study_id}/commands",
    response_model=RecordResult,
    responses=problem_responses(401, 403, 404, 409, 413, 422, 503),
    summary="Record a step of the patient's journey (the `kind` names it); a signed step carries `signature`",
)
async def record(
    request: Request,
    study_id: StudyIdPath,
    body: Annotated[
        CommandRequest,
        Body(description="The command's fields and its `kind`; no `actor`; `signature` (PIN, meaning) to sign it"),
    ],
    who: Writer,
    credentials: BearerCredentials,
    client: TrialDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    command = staff_command(body, who)

    async def run() -> RecordResult:
        signing = None
        if (asked := signature_request(body)) is not None:
            name = await credential_printed_name(request, credentials)
            signing = SigningRequest(pin=asked.pin, meaning=asked.meaning, printed_name=name)
        return await client.record(study_id, command, idempotency_key=idempotency_key, signing=signing)  # type: ignore[arg-type]

    fingerprint = request_fingerprint("record", study_id, body)
    return await answered_once(request, client, who, idempotency_key, fingerprint, run)
