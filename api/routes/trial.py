"""The trial as a whole, read: `GET /trial` (the TrialWorkflow's state and its stopping rule) and `GET /slots` (the
manufacturing slot calendar). The DSMB's decision that moves a paused trial on is routes/dsmb.py."""

from __future__ import annotations

from fastapi import APIRouter

from api.dependencies import Reader, TrialDep
from api.problems import problem_responses
from domain.slots import SlotCalendarView
from domain.trial.status import TrialStatus

# The OpenAPI tag of the trial-level operations, with what it is for.
TRIAL_TAG = "trial"
TRIAL_TAG_DESCRIPTION = (
    "The trial as a whole: its enrollment state and live safety stopping rule (`GET /trial`), the DSMB's signed "
    "decision on a paused trial (`POST /trial/dsmb-decisions`), and the manufacturing slot calendar (`GET /slots`). "
    "Supervisors follow the trial here; the DSMB reads `GET /trial` before it decides."
)

router = APIRouter(tags=[TRIAL_TAG])


@router.get(
    "/trial",
    name="trial_status",
    response_model=TrialStatus,
    responses=problem_responses(401, 503),
    summary="The trial now: enrollment (open, paused by the stopping rule, closed), the posterior P(toxicity rate "
    "> 20 %) over evaluable patients, how many more DLTs would pause, evaluable and pending patients, accrual",
    description=(
        "Read from the trial's workflow (`TrialWorkflow`, one per trial). A patient counts toward the stopping rule "
        "(is evaluable) once their DLT observation window after infusion has passed, or at their DLT; until then "
        "they are listed as pending. The posterior is the protocol's beta-binomial computation over the evaluable "
        "patients and their DLTs. When it crosses the protocol's boundary, enrollment is `paused`: the next "
        "enrollment and any lymphodepletion not yet begun are refused with the reason, and the investigator, the "
        "supervisors and the DSMB are told at once; only a signed DSMB decision (`POST /trial/dsmb-decisions`) "
        "moves it on. `closed`: the accrual target was reached or the DSMB stopped the trial. Any signed-in role "
        "may read it; the CLI's `trial status --trial` prints it."
    ),
)
async def trial_status(_: Reader, client: TrialDep) -> TrialStatus:
    return await client.trial_status()


@router.get(
    "/slots",
    response_model=SlotCalendarView,
    responses=problem_responses(401, 503),
    summary="The manufacturing slot calendar: apheresis collections booked per week against the site's capacity, "
    "products in manufacturing today, and the expected releases still to come",
    description=(
        "Consent books the earliest free apheresis collection whose product fits the manufacturer's capacity every "
        "day until its expected release (collection + the manufacturing days); the apheresis unit is told the day "
        "and the expected release. When no slot is free within the calendar's horizon the supervisors are alerted "
        "at once and the patient's status (`slot_not_booked_because`) says why: this calendar shows where a day may "
        "be found. Capacity is site configuration with the protocol's defaults. The CLI's `trial slots` prints it."
    ),
)
async def slots(_: Reader, client: TrialDep) -> SlotCalendarView:
    return await client.slots()
