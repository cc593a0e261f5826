"""The supervisor dashboard (the trial at a glance) and a patient's audit trail as a download; both read what the
API's supervisor routes and audit export read, with the same roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from domain.identifiers import STUDY_ID_PATTERN
from facade.audit import AUDIT_READER_ROLES, MEDIA_TYPES, AuditFormat, exported
from facade.errors import UnknownPatient
from web.access import SignedIn, actor_of
from web.config import WebConfig
from web.dashboard import BOOKING_WORDS, ENROLLMENT_WORDS, current_dashboard
from web.rendering import page
from web.routes.pages import Trial

router = APIRouter(include_in_schema=False)


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, session: SignedIn, trial: Trial) -> HTMLResponse:
    config: WebConfig = request.app.state.web_config
    shown = await current_dashboard(trial, config.clock())
    may_export = actor_of(session).role in AUDIT_READER_ROLES
    return page(
        request,
        "dashboard.html",
        session,
        {
            "dashboard": shown,
            "may_export": may_export,
            "enrollment_words": ENROLLMENT_WORDS,
            "booking_words": BOOKING_WORDS,
        },
    )


@router.get("/patient/{study_id}/audit.{audit_format}", response_model=None)
async def audit_download(
    request: Request,
    session: SignedIn,
    trial: Trial,
    study_id: Annotated[str, Path(pattern=STUDY_ID_PATTERN)],
    audit_format: AuditFormat,
) -> Response:
    """The patient's audit trail as `GET /patients/{study_id}/audit` gives it, as a file to save."""
    if actor_of(session).role not in AUDIT_READER_ROLES:
        return page(request, "audit_refused.html", session, {"study_id": study_id}, status_code=403)
    try:
        entries = await trial.audit(study_id)
    except UnknownPatient:
        return page(request, "not_found.html", session, {"study_id": study_id}, status_code=404)
    return Response(
        exported(entries, audit_format),
        media_type=MEDIA_TYPES[audit_format],
        headers={
            "Content-Disposition": f'attachment; filename="audit-{study_id}.{audit_format.value}"',
            "Cache-Control": "no-store",
        },
    )
