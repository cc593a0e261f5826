"""The signed-in pages: the worklist (each role's home) and a patient's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from domain.identifiers import STUDY_ID_PATTERN
from domain.roles import Role
from domain.site_time import site_date
from facade import TrialClient
from facade.errors import UnknownPatient
from web.access import SignedIn, actor_of
from web.config import WebConfig
from web.patient_view import grade_chart, happened_moments
from web.patient_words import event_words, visit_status_words
from web.rendering import page
from web.step_links import item_link, may_record, step_link, steps_for
from web.step_words import STEP_WORDS
from web.words import phase_steps
from web.worklist import current_worklist, worklist_of

router = APIRouter(include_in_schema=False)


async def web_trial(request: Request) -> TrialClient:
    """The request's trial client, as the API's routes get it (the dependency api/app.py hands the web app)."""
    client: TrialClient = await request.app.state.web_trial_dependency(request)
    return client


Trial = Annotated[TrialClient, Depends(web_trial)]


@router.get("/", response_class=HTMLResponse)
async def worklist_page(request: Request, session: SignedIn, trial: Trial) -> HTMLResponse:
    config: WebConfig = request.app.state.web_config
    found = await current_worklist(trial, actor_of(session).role, config.clock())
    return page(request, "worklist.html", session, {"worklist": found})


@router.get("/patient/{study_id}", response_class=HTMLResponse)
async def patient_page(
    request: Request, session: SignedIn, trial: Trial, study_id: Annotated[str, Path(pattern=STUDY_ID_PATTERN)]
) -> HTMLResponse:
    try:
        status = await trial.status(study_id)
        timeline = await trial.timeline(study_id)
        record = await trial.audit(study_id)
    except UnknownPatient:
        return page(request, "not_found.html", session, {"study_id": study_id}, status_code=404)
    role = actor_of(session).role
    recorded = request.query_params.get("recorded")
    config: WebConfig = request.app.state.web_config
    # What is due now and this week, every role's; later visits are in the visit calendar.
    soon = worklist_of([status], Role.SUPERVISOR, site_date(config.clock(), trial.protocol.schedule))
    due = [work.item for work in (*soon.overdue, *soon.due_today, *soon.coming)]
    return page(
        request,
        "patient.html",
        session,
        {
            "status": status,
            "timeline": timeline,
            "steps": phase_steps(status.phase),
            "happened": happened_moments(record),
            "chart": grade_chart(record),
            # What this reader may record: due items link to their forms, and the other steps are offered too.
            "due": due,
            "due_later": len(status.due) - len(due),
            "item_links": {item.code: item_link(study_id, item) for item in due if may_record(role, item)},
            "offers": [(kind, step_link(study_id, kind), STEP_WORDS[kind]) for kind in steps_for(role)],
            "recorded": STEP_WORDS.get(recorded) if recorded else None,
            "event_words": event_words,
            "visit_status_words": visit_status_words,
        },
    )
