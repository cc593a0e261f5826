"""`GET /patients/{study_id}/audit`: a patient's audit trail, for the roles that may read patient data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.audit_export import AUDIT_CONTENT, audit_response
from api.dependencies import Auditor, StudyIdPath, TrialDep
from api.problems import problem_responses
from facade import AuditFormat

router = APIRouter(tags=["supervisors"])


@router.get(
    "/patients/{study_id}/audit",
    response_class=Response,
    responses={
        200: {"description": "The audit trail (AuditEntry per line or row)", "content": AUDIT_CONTENT},
        **problem_responses(401, 403, 404, 406, 422, 503),
    },
    summary="The patient's audit trail from the trial record: every event with its hashes, then refused attempts",
    description=(
        "JSON lines (`Accept: application/x-ndjson`, the default) or CSV (`Accept: text/csv`); "
        "`?format=jsonl|csv` overrides the Accept header. Each line is an AuditEntry: `entry` is `event` (in the "
        "hash chain: an auditor recomputes `hash` from the row, see records/hashing.py) or `refused_attempt` (a "
        "write that was refused and changed nothing). Only roles that may read patient data may export it."
    ),
)
async def audit(
    study_id: StudyIdPath,
    _: Auditor,
    client: TrialDep,
    request: Request,
    audit_format: Annotated[
        AuditFormat | None, Query(alias="format", description="jsonl or csv; overrides the Accept header")
    ] = None,
) -> Response:
    return await audit_response(client, study_id, audit_format, request.headers.get("accept"))
