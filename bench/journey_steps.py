"""The staff commands of one patient's path from enrollment to infusion, on the real clock.

Every step is dated in the past, as staff entering records late would date them (infusion an hour ago), so a
journey reaches infusion in a dozen updates: the recorded steps the benchmark times.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from domain.journey import commands as cmd
from domain.journey import decide, fold, initial_state
from domain.journey.events import ApheresisCollected, Event, LymphodepletionPrescribed
from domain.protocol import CURRENT_PROTOCOL, TrialProtocol
from domain.roles import Actor, Role
from domain.site_time import site_date, site_moment
from simulation.cohort import Outcome, PatientPlan, screening_for
from workflows.journey_messages import RecordResult

STUDY_ID_PREFIX = "BN"
MAX_PATIENTS = 99_999  # study ids carry at most five digits
SCREENED_DAYS_BEFORE_INFUSION = 40
LYMPHODEPLETION_DAYS_BEFORE_INFUSION = 6  # its last dose three days before infusion: inside the window
HEIGHT_CM, WEIGHT_KG, AGE_YEARS = 120.0, 22.0, 9  # the protocol's worked dosing example


def _staff(role: Role) -> Actor:
    return Actor(user_id=f"bench-{role.value}", role=role)


COORDINATOR, INVESTIGATOR = _staff(Role.RESEARCH_COORDINATOR), _staff(Role.INVESTIGATOR)
APHERESIS, CELL_LAB = _staff(Role.APHERESIS_UNIT), _staff(Role.CELL_LAB)
PHARMACY, PHYSICIAN = _staff(Role.PHARMACY), _staff(Role.PHYSICIAN)

T = TypeVar("T")
Record = Callable[[cmd.StaffCommand], Awaitable[RecordResult]]


def study_id(number: int, prefix: str = STUDY_ID_PREFIX) -> str:
    return f"{prefix}-{number:05d}"


def infusion_moment(now: datetime | None = None) -> datetime:
    """An hour ago: every step of the path lies in the past, none in the future."""
    return (now or datetime.now(UTC)) - timedelta(hours=1)


def screening_day(infused_at: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL) -> date:
    return site_date(infused_at, protocol.schedule) - timedelta(days=SCREENED_DAYS_BEFORE_INFUSION)


def enrollment(patient: str, infused_at: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL) -> cmd.EnrollPatient:
    """An eligible nine-year-old, screened forty days before the infusion."""
    plan = PatientPlan(
        study_id=patient,
        enrolled_on_day=0,
        age_years=AGE_YEARS,
        height_cm=HEIGHT_CM,
        weight_kg=WEIGHT_KG,
        outcome=Outcome.CR_AT_ONE_YEAR,
    )
    screening = screening_for(plan, screening_day(infused_at, protocol), protocol)
    return cmd.EnrollPatient(actor=COORDINATOR, study_id=patient, screening=screening)


def _payload(result: RecordResult, kind: type[T]) -> T:
    for event in result.events:
        if isinstance(event.payload, kind):
            return event.payload
    raise LookupError(f"the step recorded no {kind.__name__}")


async def walk_to_infusion(record: Record, infused_at: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL) -> int:
    """Confirm eligibility, consent, collect, release, prescribe, give every dose, infuse; the updates sent."""
    rules = protocol.schedule
    screened_on = screening_day(infused_at, protocol)
    day_zero = site_date(infused_at, rules)
    sent = 0

    async def send(command: cmd.StaffCommand) -> RecordResult:
        nonlocal sent
        sent += 1
        return await record(command)

    await send(cmd.ConfirmEligibility(actor=INVESTIGATOR))
    await send(
        cmd.RecordConsent(
            actor=INVESTIGATOR,
            guardian_consent_signed_on=screened_on,
            consent_form_version="ICF v2.1",
            child_assent_obtained=True,
        )
    )
    collected = await send(cmd.RecordApheresis(actor=APHERESIS, collected_on=screened_on + timedelta(days=1)))
    coi = _payload(collected, ApheresisCollected).chain_of_identity
    await send(
        cmd.RecordProductRelease(
            actor=CELL_LAB,
            product_label_coi=coi,
            lot_number="SCV-2026-0042",
            total_viable_car_cells=2.0e8,
            released_on=day_zero - timedelta(days=10),
        )
    )
    start = day_zero - timedelta(days=LYMPHODEPLETION_DAYS_BEFORE_INFUSION)
    prescribed = await send(
        cmd.PrescribeLymphodepletion(
            actor=PHYSICIAN,
            height_cm=HEIGHT_CM,
            weight_kg=WEIGHT_KG,
            creatinine_clearance_ml_min_173m2=110,
            planned_start_on=start,
        )
    )
    plan = _payload(prescribed, LymphodepletionPrescribed)
    for day in range(1, max(plan.days.values()) + 1):
        given_at = site_moment(start + timedelta(days=day - 1), 10, rules)
        for drug, days in sorted(plan.days.items()):
            if day <= days:
                await send(
                    cmd.RecordLymphodepletionDose(
                        actor=PHARMACY,
                        drug=drug,
                        day_number=day,
                        dose_mg=plan.daily_dose_mg[drug],
                        given_at=given_at,
                    )
                )
    await send(
        cmd.RecordInfusion(
            actor=PHYSICIAN,
            infused_at=infused_at,
            product_label_coi=coi,
            cells_infused=6.6e7,
            active_uncontrolled_infection=False,
            hours_since_last_fever=None,
            uncontrolled_crs_from_prior_therapy=False,
            tocilizumab_doses_on_site=2,
        )
    )
    return sent


async def rehearse(infused_at: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL) -> int:
    """Walk the path through the pure decider first: how many updates it takes, or every reason it is refused.

    Cheap (no server), and a path the protocol no longer accepts fails here with the decider's own reasons
    instead of as a thousand identical errors under load.
    """
    patient = study_id(0)
    now = datetime.now(UTC)
    state = fold(initial_state(patient), decide(initial_state(patient), enrollment(patient, infused_at), now, protocol))

    async def record(command: cmd.StaffCommand) -> RecordResult:
        nonlocal state
        events: list[Event] = decide(state, command, now, protocol)
        state = fold(state, events)
        return RecordResult(events=tuple(events))

    return await walk_to_infusion(record, infused_at, protocol)
