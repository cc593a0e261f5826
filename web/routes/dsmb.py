"""The data and safety monitoring board's page: the trial's state (enrollment, the stopping rule, decisions so far)
and its signed decision (resume, resume under an amendment, stop), taken as `POST /trial/dsmb-decisions` takes it:
built now, signed with the member's PIN (meaning approval), then decided by the trial's workflow."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import Field, SecretStr, ValidationError

from domain.free_text import FreeText, Label
from domain.protocol import FrozenModel
from domain.roles import Role
from domain.signature import SignatureMeaning
from domain.trial.reports import DsmbOutcome
from facade.errors import TrialError
from facade.signing import SigningRequest
from web.access import FormSession, SignedIn, actor_of, user_of
from web.dashboard import ENROLLMENT_WORDS
from web.rendering import page
from web.routes.pages import Trial
from web.sessions import WebSession
from web.words import N_

router = APIRouter(include_in_schema=False)

DSMB_PAGE = "/dsmb"

# The form's fields as the page names them, for the problems shown beside them.
FIELD_WORDS = {
    "decision_id": N_("Decision reference"),
    "outcome": N_("Decision"),
    "amendment_version": N_("Amendment version"),
    "rationale": N_("Rationale"),
    "pin": N_("Signing PIN"),
}
OUTCOME_WORDS = {
    DsmbOutcome.RESUME: N_("Resume enrollment"),
    DsmbOutcome.RESUME_UNDER_AMENDMENT: N_("Resume enrollment under a protocol amendment"),
    DsmbOutcome.STOP: N_("Stop the trial"),
}


class DsmbDecisionForm(FrozenModel):
    """What the form posts; the same bounds as the API's request (domain/free_text.py)."""

    decision_id: Label
    outcome: DsmbOutcome
    amendment_version: Label | None = None
    rationale: FreeText
    pin: SecretStr = Field(min_length=1)


def _new_decision_id() -> str:
    return f"DSMB-{uuid.uuid4().hex[:12]}"


async def _dsmb_page(
    request: Request,
    session: WebSession,
    trial: Trial,
    *,
    entered: dict[str, Any] | None = None,
    problems: list[tuple[str | None, str]] | None = None,
    decided: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    status = await trial.trial_status()
    return page(
        request,
        "dsmb.html",
        session,
        {
            "trial": status,
            "may_decide": actor_of(session).role is Role.DSMB,
            "entered": entered or {"decision_id": _new_decision_id()},
            "problems": problems or [],
            "decided": decided,
            "field_words": FIELD_WORDS,
            "outcome_words": OUTCOME_WORDS,
            "enrollment_words": ENROLLMENT_WORDS,
        },
        status_code=status_code,
    )


@router.get(DSMB_PAGE, response_class=HTMLResponse)
async def dsmb_page(request: Request, session: SignedIn, trial: Trial) -> HTMLResponse:
    return await _dsmb_page(request, session, trial)


@router.post(DSMB_PAGE, response_class=HTMLResponse)
async def dsmb_decision(
    request: Request,
    _form: FormSession,
    session: SignedIn,
    trial: Trial,
    decision_id: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    amendment_version: Annotated[str, Form()] = "",
    rationale: Annotated[str, Form()] = "",
    pin: Annotated[str, Form()] = "",
) -> HTMLResponse:
    # Shown again after a refusal: everything but the PIN.
    entered = {
        "decision_id": decision_id or _new_decision_id(),
        "outcome": outcome,
        "amendment_version": amendment_version,
        "rationale": rationale,
    }
    try:
        form = DsmbDecisionForm(
            decision_id=decision_id,
            outcome=outcome,
            amendment_version=amendment_version.strip() or None,
            rationale=rationale,
            pin=pin,
        )
    except ValidationError as invalid:
        problems = [(str(error["loc"][0]) if error["loc"] else None, error["msg"]) for error in invalid.errors()]
        return await _dsmb_page(request, session, trial, entered=entered, problems=problems, status_code=422)
    signing = SigningRequest(
        pin=form.pin, meaning=SignatureMeaning.APPROVAL, printed_name=user_of(session).printed_name
    )
    try:
        await trial.decide_for_dsmb(
            actor_of(session),
            decision_id=form.decision_id,
            outcome=form.outcome,
            amendment_version=form.amendment_version,
            rationale=form.rationale,
            signing=signing,
        )
    except TrialError as refused:
        problems = [(None, reason) for reason in refused.reasons]
        return await _dsmb_page(request, session, trial, entered=entered, problems=problems, status_code=409)
    return await _dsmb_page(request, session, trial, decided=True)
