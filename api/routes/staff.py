"""`POST /patients/{study_id}/commands`: staff record a step of a patient's journey (the `kind` names it)."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Body, Header, Request

from api.command_requests import CommandRequest, signature_request, staff_command
from api.dependencies import BearerCredentials, StudyIdPath, TrialDep, Writer, credential_printed_name
from api.problems import problem_responses
from facade.signing import SigningRequest
from workflows.journey_messages import RecordResult

# An update id travels to Temporal and into the record's audit: short and plain.
IDEMPOTENCY_KEY_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,128}$"

router = APIRouter(tags=["staff"])


@router.post(
    "/patients/{study_id}/commands",
    response_model=RecordResult,
    responses=problem_responses(401, 403, 404, 409, 422, 503),
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
    idempotency_key: Annotated[
        str | None,
        Header(
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Resending with the same key is answered again, never recorded twice",
        ),
    ] = None,
) -> RecordResult:
    command = staff_command(body, who)
    signing = None
    if (asked := signature_request(body)) is not None:
        name = await credential_printed_name(request, credentials)
        signing = SigningRequest(pin=asked.pin, meaning=asked.meaning, printed_name=name)
    return await client.record(study_id, command, update_id=idempotency_key, signing=signing)  # type: ignore[arg-type]
