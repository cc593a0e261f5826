"""The HTTP API: the trial client's operations over FastAPI. The acting user comes from the bearer token only.

Every operation calls the one facade (`TrialClient`), so what the API does and refuses is what the CLI does.
"""

from __future__ import annotations

import asyncio
import functools
import operator
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, Final, get_args

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request, Response, status
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, create_model

from api.audit_export import AUDIT_CONTENT, audit_response
from api.problems import (
    EXCEPTION_HANDLERS,
    PROBLEM_MEDIA_TYPE,
    Problem,
    problem_responses,
)
from domain.eligibility import ScreeningData
from domain.identifiers import STUDY_ID_PATTERN, StudyId
from domain.journey.commands import EnrollPatient, StaffCommand
from domain.journey.phases import Phase
from domain.journey.views import PatientStatus
from domain.protocol import FrozenModel
from domain.roles import Actor, Role
from facade import (
    AuditFormat,
    DeliveryRecord,
    EnrollmentResult,
    PatientListing,
    Timeline,
    TrialClient,
    TrialReport,
    VerificationReport,
)
from observability.logging import get_logger
from security.auth import AuthenticationFailed, AuthenticationUnavailable, Authenticator
from workflows.journey_messages import RecordResult

API_TITLE: Final = "trialflow API"
API_VERSION: Final = "1.0.0"

# Who may export a patient's audit trail: its payloads hold what a decoded history holds (the birth date among
# it), so the same roles as the codec server's readers of patient data (api/codec_server.py PHI_READER_ROLES).
AUDIT_READER_ROLES: Final = frozenset(
    {Role.RESEARCH_COORDINATOR, Role.INVESTIGATOR, Role.PHYSICIAN, Role.NURSE, Role.SUPERVISOR}
)

# An update id travels to Temporal and into the record's audit: short and plain.
IDEMPOTENCY_KEY_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,128}$"

TrialSource = TrialClient | Callable[[], TrialClient | Awaitable[TrialClient]]

_log = get_logger("security.auth")


# ---------------------------------------------------------------- request bodies


class EnrollmentRequest(FrozenModel):
    """A patient screened for the trial: eligibility is decided from the screening data."""

    study_id: StudyId = Field(description="The study id the patient is enrolled under, e.g. TF-001")
    screening: ScreeningData


def _request_model(command: type[BaseModel]) -> type[BaseModel]:
    """The command's own fields and checks, without `actor`: the API sets it from the credential."""
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in command.model_fields.items() if name != "actor"
    }
    model: type[BaseModel] = create_model(
        f"{command.__name__}Request", __base__=FrozenModel, __doc__=command.__doc__, **fields
    )
    return model


# Each staff command but enrollment (its own endpoint), as its kind names it.
COMMAND_MODELS: Final[dict[str, type[BaseModel]]] = {
    str(model.model_fields["kind"].default): model
    for model in get_args(get_args(StaffCommand)[0])
    if model is not EnrollPatient
}
REQUEST_MODELS: Final[dict[str, type[BaseModel]]] = {
    kind: _request_model(model) for kind, model in COMMAND_MODELS.items()
}
if TYPE_CHECKING:
    CommandRequest = BaseModel
else:
    CommandRequest = Annotated[functools.reduce(operator.or_, REQUEST_MODELS.values()), Field(discriminator="kind")]


def staff_command(request: BaseModel, actor: Actor) -> BaseModel:
    """The command the facade takes: the request's values and the authenticated actor, validated once more."""
    command_model = COMMAND_MODELS[str(getattr(request, "kind"))]  # noqa: B009
    values = {name: getattr(request, name) for name in type(request).model_fields}
    return command_model.model_validate({**values, "actor": actor})


# ---------------------------------------------------------------- dependencies

_bearer = HTTPBearer(auto_error=False, description="A token configured for one user and role")


async def trial_client(request: Request) -> TrialClient:
    source: TrialSource = request.app.state.trial_source
    if isinstance(source, TrialClient):
        return source
    made = source()
    return made if isinstance(made, TrialClient) else await made


async def authenticated_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    """The actor of the bearer token, or 401 naming why: the one source of who acts."""
    auth: Authenticator = request.app.state.authenticator
    token = credentials.credentials if credentials else None
    try:
        # Off the event loop: checking a JWT may fetch the issuer's keys.
        found = await asyncio.to_thread(auth.actor_for, token) if token else None
    except AuthenticationFailed as refused:
        _log.warning("authentication_refused", path=request.url.path, reason=refused.reason)
        raise _unauthenticated(f"the bearer token was refused: {refused.reason}", presented=True) from None
    except AuthenticationUnavailable as unavailable:
        _log.warning("authentication_unavailable", path=request.url.path, reason=str(unavailable))
        raise Problem(
            503,
            "authentication_unavailable",
            "Authentication unavailable",
            f"the bearer token cannot be checked just now: {unavailable}",
        ) from None
    if found is None:
        if credentials is None:
            raise _unauthenticated("no bearer token was given")
        _log.warning("authentication_refused", path=request.url.path, reason="unknown token")
        raise _unauthenticated("the bearer token is not recognised", presented=True)
    return found


def _unauthenticated(why: str, presented: bool = False) -> Problem:
    # RFC 6750 §3: `error` only when a token was presented and refused.
    challenge = 'Bearer realm="trialflow"' + (', error="invalid_token"' if presented else "")
    return Problem(
        401,
        "unauthenticated",
        "Not authenticated",
        f"{why}: send Authorization: Bearer <token> with a token configured for you",
        headers={"WWW-Authenticate": challenge},
    )


async def audit_reader(who: Annotated[Actor, Depends(authenticated_actor)]) -> Actor:
    """The authenticated actor, or 403 when the role may not read patient data."""
    if who.role not in AUDIT_READER_ROLES:
        role = who.role.value.replace("_", " ")
        raise Problem(403, "forbidden", "Not allowed", f"the {role} role may not export a patient's audit trail")
    return who


TrialDep = Annotated[TrialClient, Depends(trial_client)]
Reader = Annotated[Actor, Depends(authenticated_actor)]
# Who writes is any authenticated actor: the trial client refuses (403) a role that may not, and keeps the attempt.
Writer = Annotated[Actor, Depends(authenticated_actor)]
Auditor = Annotated[Actor, Depends(audit_reader)]
StudyIdPath = Annotated[
    str, Path(pattern=STUDY_ID_PATTERN, description="The patient's study id, e.g. TF-001", examples=["TF-001"])
]


# ---------------------------------------------------------------- the app


def create_app(trial: TrialSource, auth: Authenticator) -> FastAPI:
    """The API over `trial` (a TrialClient, or a function giving one per request), with `auth`'s tokens."""
    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        summary="Enroll, record and read the journeys of a pediatric CD19/CD22 CAR-T trial.",
        description=(
            "Every request but `/healthz` carries `Authorization: Bearer <token>`; the acting user and role come "
            "from the token alone, never from a request body. Errors are RFC 9457 problem details "
            "(`application/problem+json`) whose `reasons` list every problem found."
        ),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )
    app.state.trial_source = trial
    app.state.authenticator = auth
    reads = problem_responses(401, 404, 422, 503)

    @app.get("/healthz", tags=["service"], summary="Liveness: the API answers (no authentication)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/patients",
        tags=["operators"],
        status_code=status.HTTP_201_CREATED,
        response_model=EnrollmentResult,
        responses=problem_responses(401, 403, 409, 422, 503),
        summary="Enroll a screened patient (a screen failure is enrolled too, with every failed criterion)",
    )
    async def enroll(
        body: EnrollmentRequest, who: Writer, client: TrialDep, response: Response, request: Request
    ) -> EnrollmentResult:
        command = EnrollPatient(actor=who, study_id=body.study_id, screening=body.screening)
        result = await client.enroll(command)
        response.headers["Location"] = str(request.url_for("patient_status", study_id=result.study_id).path)
        return result

    @app.post(
        "/patients/{study_id}/commands",
        tags=["staff"],
        response_model=RecordResult,
        responses=problem_responses(401, 403, 404, 409, 422, 503),
        summary="Record a step of the patient's journey (the `kind` names it)",
    )
    async def record(
        study_id: StudyIdPath,
        body: Annotated[CommandRequest, Body(description="The command's fields and its `kind`; no `actor`")],
        who: Writer,
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
        return await client.record(study_id, command, update_id=idempotency_key)  # type: ignore[arg-type]

    @app.get(
        "/patients/{study_id}",
        tags=["supervisors"],
        name="patient_status",
        response_model=PatientStatus,
        responses=reads,
        summary="Where the patient stands now",
    )
    async def patient_status(study_id: StudyIdPath, _: Reader, client: TrialDep) -> PatientStatus:
        return await client.status(study_id)

    @app.get(
        "/patients/{study_id}/timeline",
        tags=["supervisors"],
        response_model=Timeline,
        responses=reads,
        summary="Every recorded event of the patient, oldest first",
    )
    async def timeline(study_id: StudyIdPath, _: Reader, client: TrialDep) -> Timeline:
        return await client.timeline(study_id)

    @app.get(
        "/patients/{study_id}/audit",
        tags=["supervisors"],
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

    @app.get(
        "/patients",
        tags=["supervisors"],
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

    @app.get(
        "/report",
        tags=["supervisors"],
        response_model=TrialReport,
        responses=problem_responses(401, 503),
        summary="Enrollment, CR rate at one year with its 95 % CI, CRS/ICANS grades, stopping rule",
    )
    async def report(_: Reader, client: TrialDep) -> TrialReport:
        return await client.report()

    @app.get(
        "/verify",
        tags=["supervisors"],
        response_model=VerificationReport,
        responses=problem_responses(401, 503),
        summary="Recompute the trial record's hash chain and report every problem",
    )
    async def verify(_: Reader, client: TrialDep) -> VerificationReport:
        return await client.verify()

    @app.get(
        "/notifications/failed",
        tags=["supervisors"],
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

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            # Problems are sent as application/problem+json; FastAPI documents every model as application/json.
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for code, answer in operation.get("responses", {}).items():
                        content = answer.get("content", {})
                        if code[:1] in "45" and "application/json" in content:
                            answer["content"] = {PROBLEM_MEDIA_TYPE: content["application/json"]}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
