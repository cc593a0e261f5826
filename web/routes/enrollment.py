"""Enrollment for operators: the screening form (generated from the registry's EnrollPatient), eligibility decided
by the trial client as the API's enrollment decides it; a screen failure shows every failed criterion."""

from __future__ import annotations

import uuid
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from domain.journey.command_registry import STAFF_COMMANDS
from domain.journey.commands import EnrollPatient
from domain.journey.permissions import role_problem
from facade.errors import TrialError
from facade.models import EnrollmentResult
from web.access import FormSession, SignedIn, actor_of
from web.rendering import page
from web.routes.pages import Trial
from web.routes.steps import forbidden_page, problem_summary, site_offset
from web.sessions import WebSession
from web.step_forms import FORM_WIDE, form_of, group_names, leaves, posted_values, problems_by_field, shown_value
from web.step_words import GROUP_WORDS, STEP_HELP, choice_of, label_of

router = APIRouter(include_in_schema=False)

KIND: Final = "enroll_patient"
ENTRY: Final = STAFF_COMMANDS[KIND]


def _enroll_page(
    request: Request,
    session: WebSession,
    values: dict[str, str],
    *,
    problems: dict[str, list[str]] | None = None,
    refusal: tuple[str, ...] = (),
    result: EnrollmentResult | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "enroll.html",
        session,
        {
            "entry": ENTRY,
            "help": STEP_HELP[KIND],
            "items": form_of(ENTRY),
            "values": values,
            "problems": problems or {},
            "form_problems": (problems or {}).get(FORM_WIDE, []),
            "field_problems": problem_summary(form_of(ENTRY), problems or {}),
            "refusal": refusal,
            "result": result,
            "attempt": str(uuid.uuid4()),
            "label_of": label_of,
            "choice_of": choice_of,
            "group_words": GROUP_WORDS,
            "num": shown_value,
        },
        status_code=status_code,
    )


@router.get("/enroll", response_class=HTMLResponse)
async def enroll_form(request: Request, session: SignedIn) -> HTMLResponse:
    problem = role_problem(KIND, actor_of(session).role)
    if problem is not None:
        return forbidden_page(request, session, KIND, problem)
    return _enroll_page(request, session, {})


@router.post("/enroll", response_class=HTMLResponse)
async def enroll(request: Request, _form: FormSession, session: SignedIn, trial: Trial) -> Response:
    actor = actor_of(session)
    problem = role_problem(KIND, actor.role)
    if problem is not None:
        return forbidden_page(request, session, KIND, problem)
    form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    items = form_of(ENTRY)
    kept = {f.name: form.get(f.name, "") for f in leaves(items)}
    try:
        command = EnrollPatient.model_validate({**posted_values(items, form, site_offset()), "actor": actor})
    except ValidationError as error:
        problems = problems_by_field(error, {f.name for f in leaves(items)} | group_names(items))
        return _enroll_page(request, session, kept, problems=problems, status_code=422)
    try:
        result = await trial.enroll(command)
    except TrialError as refused:
        return _enroll_page(request, session, kept, refusal=refused.reasons, status_code=409)
    if result.eligible:
        return RedirectResponse(f"/patient/{result.study_id}?recorded={KIND}", status_code=303)
    return _enroll_page(request, session, kept, result=result)
