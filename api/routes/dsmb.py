"""`POST /trial/dsmb-decisions`: the data and safety monitoring board's signed decision on a paused trial."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from pydantic import Field

from api.command_requests import SignatureRequest
from api.dependencies import BearerCredentials, TrialDep, Writer, credential_printed_name
from api.problems import problem_responses
from api.routes.trial import TRIAL_TAG
from domain.free_text import FreeText, Label
from domain.protocol import FrozenModel
from domain.signature import SignatureMeaning
from domain.trial.reports import DsmbOutcome
from domain.trial.status import TrialStatus
from facade.signing import SigningRequest

router = APIRouter(tags=[TRIAL_TAG])


class DsmbDecisionRequest(FrozenModel):
    decision_id: Label = Field(description="The board's reference for this decision; sending it again changes nothing")
    outcome: DsmbOutcome
    amendment_version: Label | None = Field(default=None, description="Only with resume_under_amendment")
    rationale: FreeText
    signature: SignatureRequest = Field(description="Your signing PIN: a DSMB decision is always signed")


@router.post(
    "/trial/dsmb-decisions",
    response_model=TrialStatus,
    responses=problem_responses(401, 403, 409, 422, 503),
    summary="The DSMB's signed decision on a trial the stopping rule paused: resume, resume under an amendment, stop",
    description=(
        "Only a member of the data and safety monitoring board (role `dsmb`) decides, always signed: the signing "
        "PIN in `signature` authenticates the member again and the signature means approval. On a trial the "
        "stopping rule paused, `resume` reopens enrollment and lymphodepletion, and `resume_under_amendment` does so "
        "under the protocol version named in `amendment_version`; `stop` closes enrollment for good and no new "
        "lymphodepletion starts (infused patients go on). The same `decision_id` sent again changes nothing. "
        "Answers the trial's status (as `GET /trial`). Refused: 403 for a wrong PIN or a locked signing; 409 from "
        "anyone but the DSMB, a resume on a trial that is not paused, or a stop of a stopped trial (every reason "
        "listed). The CLI's `trial dsmb-decision` sends it."
    ),
)
async def dsmb_decision(
    request: Request,
    body: Annotated[DsmbDecisionRequest, Body()],
    who: Writer,
    credentials: BearerCredentials,
    client: TrialDep,
) -> TrialStatus:
    name = await credential_printed_name(request, credentials)
    # The board approves a course for the trial: its signature means approval, whatever the body says.
    signing = SigningRequest(pin=body.signature.pin, meaning=SignatureMeaning.APPROVAL, printed_name=name)
    return await client.decide_for_dsmb(
        who,
        decision_id=body.decision_id,
        outcome=body.outcome,
        amendment_version=body.amendment_version,
        rationale=body.rationale,
        signing=signing,
    )
