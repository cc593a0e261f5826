"""Step forms: one page per staff step of the command registry, for the roles that may record it; a post is checked
field by field, signed with the signer's PIN where the step is signed, and recorded through the trial client as the
API records it (the same refusals, every reason shown). The calculators: the lymphodepletion prescription's doses,
the CRS and ICANS grades before submitting (htmx previews)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr, ValidationError

from domain.dosing import plan_lymphodepletion
from domain.identifiers import STUDY_ID_PATTERN
from domain.journey.command_registry import CommandEntry
from domain.journey.permissions import role_problem
from domain.journey.status_view import PatientStatus
from domain.signature import SignatureMeaning
from domain.toxicity import CrsFindings, IcansFindings, grade_crs
from facade.errors import TrialError, UnknownPatient
from facade.signing import SigningRequest
from web.access import FormSession, SignedIn, actor_of, user_of
from web.config import WebConfig
from web.i18n import site_zone
from web.rendering import page
from web.routes.pages import Trial
from web.sessions import WebSession
from web.step_forms import (
    FORM_WIDE,
    FormField,
    FormGroup,
    form_of,
    group_names,
    leaves,
    posted_values,
    problems_by_field,
    shown_value,
)
from web.step_links import STEPS, step_link
from web.step_words import GROUP_WORDS, STEP_HELP, STEP_WORDS, choice_of, label_of

router = APIRouter(include_in_schema=False)

PIN_FIELD: Final = "signature_pin"
MEANING_FIELD: Final = "signature_meaning"
ATTEMPT_FIELD: Final = "attempt"  # one id per rendered form: a form sent twice is recorded once
# The steps with a calculator beside the form, and the form's inputs it reads.
PREVIEWS: Final = {"assess_crs", "assess_icans", "prescribe_lymphodepletion"}
PRESCRIBED_DOSES: Final = {"record_lymphodepletion_dose"}

StudyId = Annotated[str, Path(pattern=STUDY_ID_PATTERN)]


def site_offset() -> str:
    offset = datetime.now(site_zone()).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


def _now(request: Request) -> datetime:
    config: WebConfig = request.app.state.web_config
    return config.clock()


def step_page(
    request: Request,
    session: WebSession,
    study_id: str,
    kind: str,
    values: Mapping[str, str],
    *,
    problems: Mapping[str, list[str]] | None = None,
    refusal: tuple[str, ...] = (),
    status: PatientStatus | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    entry = STEPS[kind]
    return page(
        request,
        "step_form.html",
        session,
        {
            "study_id": study_id,
            "kind": kind,
            "entry": entry,
            "title": STEP_WORDS.get(kind, kind),
            "help": STEP_HELP.get(kind, entry.help),
            "items": form_of(entry),
            "values": values,
            "problems": problems or {},
            "form_problems": (problems or {}).get(FORM_WIDE, []),
            "field_problems": problem_summary(form_of(entry), problems or {}),
            "refusal": refusal,
            "signed": entry.signed.value,
            "meanings": [meaning.value for meaning in SignatureMeaning],
            "attempt": str(uuid.uuid4()),
            "preview": kind in PREVIEWS,
            "action": step_link(study_id, kind),
            # A dose is given as prescribed: the prescription's daily doses beside the dose form.
            "prescribed": status.prescribed_daily_mg if status is not None and kind in PRESCRIBED_DOSES else {},
            "bsa_m2": status.bsa_m2 if status is not None else None,
            "label_of": label_of,
            "choice_of": choice_of,
            "group_words": GROUP_WORDS,
            "num": shown_value,
        },
        status_code=status_code,
    )


def problem_summary(
    items: tuple[FormField | FormGroup, ...], problems: Mapping[str, list[str]]
) -> list[tuple[str, str, str]]:
    """Each field's problems for the summary above the form: the input's anchor, its label's words, the problem."""
    anchors: dict[str, tuple[str, str]] = {f.name: (f.input_id, label_of(f.leaf)) for f in leaves(items)}
    anchors |= {g.name: (g.group_id, GROUP_WORDS.get(g.leaf, g.leaf)) for g in _groups(items)}
    return [
        (anchors[name][0], anchors[name][1], "; ".join(found))
        for name, found in problems.items()
        if name != FORM_WIDE and name in anchors
    ]


def _groups(items: tuple[FormField | FormGroup, ...]) -> list[FormGroup]:
    found: list[FormGroup] = []
    for item in items:
        if isinstance(item, FormGroup):
            found += [item, *_groups(item.items)]
    return found


def forbidden_page(request: Request, session: WebSession, kind: str, reason: str) -> HTMLResponse:
    title = STEP_WORDS.get(kind, kind)
    return page(request, "step_forbidden.html", session, {"title": title, "reason": reason}, status_code=403)


def _unknown_step(request: Request, session: WebSession, study_id: str) -> HTMLResponse:
    return page(request, "not_found.html", session, {"study_id": study_id}, status_code=404)


def _starting_values(request: Request, entry: CommandEntry) -> dict[str, str]:
    """The query's values for the form's own fields (a worklist item's visit, drug and day), and now at the site
    for the moment the step happened."""
    fields = leaves(form_of(entry))
    values = {f.name: request.query_params[f.name] for f in fields if f.name in request.query_params}
    now = shown_value(_now(request).astimezone(site_zone()))
    for f in fields:
        if f.kind == "datetime" and f.required and f.name not in values:
            values[f.name] = now
    return values


@router.get("/patient/{study_id}/steps/{kind}", response_class=HTMLResponse)
async def step_form(request: Request, session: SignedIn, trial: Trial, study_id: StudyId, kind: str) -> HTMLResponse:
    if kind not in STEPS:
        return _unknown_step(request, session, study_id)
    problem = role_problem(kind, actor_of(session).role)
    if problem is not None:
        return forbidden_page(request, session, kind, problem)
    try:
        status = await trial.status(study_id)
    except UnknownPatient:
        return _unknown_step(request, session, study_id)
    return step_page(request, session, study_id, kind, _starting_values(request, STEPS[kind]), status=status)


@router.post("/patient/{study_id}/steps/{kind}", response_class=HTMLResponse)
async def record_step(
    request: Request, _form: FormSession, session: SignedIn, trial: Trial, study_id: StudyId, kind: str
) -> Response:
    if kind not in STEPS:
        return _unknown_step(request, session, study_id)
    actor = actor_of(session)
    problem = role_problem(kind, actor.role)
    if problem is not None:
        return forbidden_page(request, session, kind, problem)
    entry = STEPS[kind]
    form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    items = form_of(entry)
    kept = {f.name: form.get(f.name, "") for f in leaves(items)}
    try:
        command = entry.model.model_validate({**posted_values(items, form, site_offset()), "actor": actor})
    except ValidationError as error:
        known = {f.name for f in leaves(items)} | group_names(items)
        problems = problems_by_field(error, known)
        return step_page(request, session, study_id, kind, kept, problems=problems, status_code=422)
    signing = _signing(session, form)
    try:
        await trial.record(study_id, command, signing=signing, idempotency_key=form.get(ATTEMPT_FIELD) or None)  # type: ignore[arg-type]
    except TrialError as refused:
        status = await trial.status(study_id) if kind in PRESCRIBED_DOSES else None
        return step_page(
            request, session, study_id, kind, kept, refusal=refused.reasons, status=status, status_code=409
        )
    return RedirectResponse(f"/patient/{study_id}?recorded={kind}", status_code=303)


def _signing(session: WebSession, form: Mapping[str, str]) -> SigningRequest | None:
    pin = form.get(PIN_FIELD, "")
    if not pin:
        return None
    meaning = form.get(MEANING_FIELD, SignatureMeaning.AUTHOR.value)
    chosen = SignatureMeaning(meaning) if meaning in set(SignatureMeaning) else SignatureMeaning.AUTHOR
    return SigningRequest(pin=SecretStr(pin), meaning=chosen, printed_name=user_of(session).printed_name)


# ---------------------------------------------------------------- calculators


@router.post("/patient/{study_id}/steps/{kind}/preview", response_class=HTMLResponse)
async def preview(
    request: Request, _form: FormSession, session: SignedIn, trial: Trial, study_id: StudyId, kind: str
) -> HTMLResponse:
    """What the step would give, before it is submitted: the CRS or ICANS grade with its reasons, the
    lymphodepletion doses from height and weight (domain/toxicity.py, domain/dosing.py)."""
    if kind not in PREVIEWS:
        return _unknown_step(request, session, study_id)
    form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    values = posted_values(form_of(STEPS[kind]), form, site_offset())
    shown: dict[str, Any] = {"kind": kind, "num": shown_value}
    try:
        if kind == "prescribe_lymphodepletion":
            shown["plan"] = plan_lymphodepletion(
                float(values["height_cm"]),
                float(values["weight_kg"]),
                float(values["creatinine_clearance_ml_min_173m2"])
                if "creatinine_clearance_ml_min_173m2" in values
                else None,
                trial.protocol.lymphodepletion,
            )
        elif kind == "assess_crs":
            shown["grading"] = grade_crs(CrsFindings.model_validate(values.get("findings", {})), trial.protocol.crs)
        else:
            findings = IcansFindings.model_validate(values.get("findings", {}))
            at = datetime.fromisoformat(values["assessed_at"]) if "assessed_at" in values else _now(request)
            shown["grading"] = await trial.icans_preview(study_id, findings, at)
    except ValidationError as error:
        # Still being filled in: nothing to say yet; filled in wrongly: what is wrong, at which field.
        if not any(detail["type"] == "missing" for detail in error.errors()):
            shown["problems"] = _preview_problems(error)
    except (KeyError, ValueError):
        pass  # a number not yet typed, or not a number: the form itself says so when it is sent
    except TrialError as refused:
        shown["problems"] = [(None, reason) for reason in refused.reasons]
    return page(request, "_step_preview.html", session, shown)


def _preview_problems(error: ValidationError) -> list[tuple[str | None, str]]:
    """The findings' problems, each with its field's label (None: the findings' own check across fields)."""
    leaves_named = {str(detail["loc"][-1]) for detail in error.errors() if detail["loc"]}
    return [
        (label_of(name) if name != FORM_WIDE else None, problem)
        for name, problems in problems_by_field(error, leaves_named).items()
        for problem in problems
    ]
