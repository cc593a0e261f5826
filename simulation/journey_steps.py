"""One patient's path along the protocol (consent, apheresis, product release, lymphodepletion, infusion) as the
staff commands that walk it, each with its moment: computed from the protocol, without a clock or I/O, so the
tests, the benchmark and `trial-demo` walk the same path, each through its own client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import IntEnum
from typing import Any, TypeVar

from cli.synthetic import eligible_screening
from domain.chain_of_identity import issue_chain_of_identity
from domain.dosing import daily_dose_mg, plan_lymphodepletion
from domain.journey import JourneyState, decide, fold, initial_state
from domain.journey import commands as cmd
from domain.journey.command_registry import COMMANDS, CORRECTION_ONLY, Signed
from domain.journey.events import Event
from domain.journey.timers import due_timers
from domain.protocol import CURRENT_PROTOCOL, FrozenModel, TrialProtocol, protocol_for_version
from domain.response import MarrowAssessment
from domain.roles import Actor, Role
from domain.signature import SIGNED_FIELD, SignatureMeaning, sign
from domain.site_time import site_date, site_moment

# Staff act in the site's morning: never at 00:00 or 08:00, when the workflow's own timers fire (the time-skipping
# server refuses an update landing at the very instant a timer of that workflow fires).
STAFF_HOUR = 9  # collection, release and prescription, infusion
DOSE_HOUR = 10  # each day's lymphodepletion doses
CONSENT_FORM_VERSION = "ICF v2.1"
RELEASED_TARGET_DOSES = 3  # a released product holds three target doses
SHIPPING_TEMPERATURE_C = -180.0  # the logger's warmest reading of a shipment in vapour-phase nitrogen
THAWED_BEFORE_INFUSION = timedelta(minutes=15)  # the end of thawing before the infusion starts

C = TypeVar("C", bound=FrozenModel)
R = TypeVar("R")


class Milestone(IntEnum):
    """How far along the path a patient is: the step just taken. Ordered: a path stops at any of them."""

    ELIGIBILITY_CONFIRMED = 1  # waiting for consent
    CONSENTED = 2  # waiting for apheresis
    COLLECTED = 3  # manufacturing
    RELEASED = 4  # lymphodepletion to prescribe
    PRESCRIBED = 5  # lymphodepletion to give
    LYMPHODEPLETED = 6  # infusion due
    INFUSED = 7  # day 0


class PathPatient(FrozenModel):
    """The child walked along the path and what staff record besides dates: by default the protocol's worked
    dosing example (nine years old, 120 cm, 22 kg, normal renal function)."""

    study_id: str
    age_years: int = 9
    height_cm: float = 120.0
    weight_kg: float = 22.0
    creatinine_clearance_ml_min_173m2: float = 110.0
    staff_user_ids: str = "{role}-1"  # each role's user id; "{role}" stands for the role's name
    lot_number: str = "SCV-2026-0042"
    released_cells: float | None = None  # None: RELEASED_TARGET_DOSES target doses for the child's weight

    def actor(self, role: Role) -> Actor:
        return Actor(user_id=self.staff_user_ids.format(role=role.value), role=role)


class Pace(FrozenModel):
    """How many days staff take between steps where the protocol leaves it to them."""

    collected_days_after_consent: int = 1
    manufacturing_days: int = 20  # collection to release, the manufacturer's usual turnaround
    lymphodepletion_days_after_release: int = 1
    infused_days_after_lymphodepletion: int | None = None  # None: the first day of the protocol's window

    def infusion_gap(self, protocol: TrialProtocol) -> int:
        if self.infused_days_after_lymphodepletion is None:
            return protocol.infusion.min_days_after_lymphodepletion
        return self.infused_days_after_lymphodepletion


PACE = Pace()


@dataclass(frozen=True)
class Step:
    """A staff command and the moment it happens; `reaches` names the milestone it completes, if any."""

    at: datetime
    command: cmd.StaffCommand
    reaches: Milestone | None = None


# ---------------------------------------------------------------- each step


def staff_day(now: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL) -> date:
    """The site's latest day whose STAFF_HOUR has come by `now`: a step dated at that hour is never in the future,
    even in the site's small hours (after its midnight, before 09:00), when its calendar day's 09:00 is still ahead."""
    today = site_date(now, protocol.schedule)
    if site_moment(today, STAFF_HOUR, protocol.schedule) > now:
        return today - timedelta(days=1)
    return today


def earlier_today(now: datetime, ago: timedelta, protocol: TrialProtocol = CURRENT_PROTOCOL) -> datetime:
    """`ago` before `now`, but not before the site's midnight: a step dated so falls on the site's today, so no
    assessment of its yesterday is overdue."""
    midnight = site_moment(site_date(now, protocol.schedule), 0, protocol.schedule)
    return max(now - ago, midnight)


def enrollment(
    patient: PathPatient, screened_on: date, protocol: TrialProtocol = CURRENT_PROTOCOL
) -> cmd.EnrollPatient:
    """An eligible child of the patient's age and size, screened on `screened_on`."""
    screening = eligible_screening(screened_on, patient.age_years, patient.height_cm, patient.weight_kg, protocol)
    return cmd.EnrollPatient(
        actor=patient.actor(Role.RESEARCH_COORDINATOR), study_id=patient.study_id, screening=screening
    )


def consent(patient: PathPatient, signed_on: date, protocol: TrialProtocol = CURRENT_PROTOCOL) -> cmd.RecordConsent:
    """The guardian's consent, with the child's assent from the protocol's assent age."""
    assent = patient.age_years >= protocol.consent.assent_from_age_years
    return cmd.RecordConsent(
        actor=patient.actor(Role.INVESTIGATOR),
        guardian_consent_signed_on=signed_on,
        consent_form_version=CONSENT_FORM_VERSION,
        child_assent_obtained=True if assent else None,
    )


def apheresis(patient: PathPatient, collected_on: date) -> cmd.RecordApheresis:
    return cmd.RecordApheresis(actor=patient.actor(Role.APHERESIS_UNIT), collected_on=collected_on)


def chain_of_identity(patient: PathPatient, collection_number: int = 1) -> str:
    """The label the decider issues at that collection: what the bag says at release and at the bedside."""
    return str(issue_chain_of_identity(patient.study_id, collection_number))


def product_release(
    patient: PathPatient,
    released_on: date,
    protocol: TrialProtocol = CURRENT_PROTOCOL,
    collection_number: int = 1,
    cells: float | None = None,
) -> cmd.RecordProductRelease:
    target = protocol.cell_dose.target_cells_per_kg * patient.weight_kg
    return cmd.RecordProductRelease(
        actor=patient.actor(Role.CELL_LAB),
        product_label_coi=chain_of_identity(patient, collection_number),
        lot_number=patient.lot_number,
        total_viable_car_cells=cells or patient.released_cells or target * RELEASED_TARGET_DOSES,
        released_on=released_on,
    )


def hand_off(
    patient: PathPatient,
    step: cmd.CustodyStep,
    at: datetime,
    collection_number: int = 1,
    logger_max_temperature_c: float | None = None,
) -> cmd.RecordCustodyHandOff:
    """One hand-off of the cells, the label scanned; at the site's receipt the logger read at `logger_max_...`
    (by default SHIPPING_TEMPERATURE_C, cold enough)."""
    if step == "received_at_site" and logger_max_temperature_c is None:
        logger_max_temperature_c = SHIPPING_TEMPERATURE_C
    return cmd.RecordCustodyHandOff(
        actor=patient.actor(Role.APHERESIS_UNIT if step == "shipped_to_manufacturer" else Role.CELL_LAB),
        step=step,
        at=at,
        product_label_coi=chain_of_identity(patient, collection_number),
        logger_max_temperature_c=logger_max_temperature_c,
    )


def thaw_before(patient: PathPatient, infused_at: datetime, collection_number: int = 1) -> Step:
    """The bag thawed, at the site, THAWED_BEFORE_INFUSION before the infusion at `infused_at`."""
    thawed_at = infused_at - THAWED_BEFORE_INFUSION
    return Step(thawed_at, hand_off(patient, "thawed", thawed_at, collection_number))


def prescription(
    patient: PathPatient, starts_on: date, protocol: TrialProtocol = CURRENT_PROTOCOL
) -> cmd.PrescribeLymphodepletion:
    """Lymphodepletion for the patient's size and renal function; a suggested renal reduction is accepted."""
    plan = plan_lymphodepletion(
        patient.height_cm, patient.weight_kg, patient.creatinine_clearance_ml_min_173m2, protocol.lymphodepletion
    )
    return cmd.PrescribeLymphodepletion(
        actor=patient.actor(Role.PHYSICIAN),
        height_cm=patient.height_cm,
        weight_kg=patient.weight_kg,
        creatinine_clearance_ml_min_173m2=patient.creatinine_clearance_ml_min_173m2,
        renal_adjustment="accept" if plan.renal_suggestion else None,
        planned_start_on=starts_on,
    )


def prescribed_daily_mg(patient: PathPatient, protocol: TrialProtocol = CURRENT_PROTOCOL) -> dict[str, float]:
    """Each drug's daily dose under `prescription`, as the decider computes it."""
    regimen = protocol.lymphodepletion
    plan = plan_lymphodepletion(
        patient.height_cm, patient.weight_kg, patient.creatinine_clearance_ml_min_173m2, regimen
    )
    reduction = plan.renal_suggestion.reduction_fraction if plan.renal_suggestion else 0.0
    return {
        drug.name: daily_dose_mg(drug, plan.bsa_m2, reduction if drug is regimen.fludarabine else 0.0)
        for drug in regimen.drugs
    }


def lymphodepletion_doses(
    patient: PathPatient,
    starts_on: date,
    protocol: TrialProtocol = CURRENT_PROTOCOL,
    daily_mg: Mapping[str, float] | None = None,
) -> list[Step]:
    """Every dose of the regimen, one of each drug a day at DOSE_HOUR from `starts_on`; `daily_mg` as prescribed
    (by default, as `prescription` prescribes)."""
    doses = dict(daily_mg or prescribed_daily_mg(patient, protocol))
    drugs = protocol.lymphodepletion.drugs
    steps = []
    for day in range(1, max(d.days for d in drugs) + 1):
        given_at = site_moment(starts_on + timedelta(days=day - 1), DOSE_HOUR, protocol.schedule)
        for drug in drugs:
            if day <= drug.days:
                dose = cmd.RecordLymphodepletionDose(
                    actor=patient.actor(Role.PHARMACY),
                    drug=drug.name,
                    day_number=day,
                    dose_mg=doses[drug.name],
                    given_at=given_at,
                )
                steps.append(Step(given_at, dose))
    steps[-1] = Step(steps[-1].at, steps[-1].command, Milestone.LYMPHODEPLETED)
    return steps


def last_dose_on(starts_on: date, protocol: TrialProtocol = CURRENT_PROTOCOL) -> date:
    return starts_on + timedelta(days=max(d.days for d in protocol.lymphodepletion.drugs) - 1)


def infusion(
    patient: PathPatient, infused_at: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL, collection_number: int = 1
) -> cmd.RecordInfusion:
    """The target dose for the child's weight, the bag's label scanned, no hold criterion met."""
    return cmd.RecordInfusion(
        actor=patient.actor(Role.PHYSICIAN),
        infused_at=infused_at,
        product_label_coi=chain_of_identity(patient, collection_number),
        cells_infused=protocol.cell_dose.target_cells_per_kg * patient.weight_kg,
        active_uncontrolled_infection=False,
        no_fever=True,
        uncontrolled_crs_from_prior_therapy=False,
        tocilizumab_doses_on_site=protocol.infusion.min_tocilizumab_doses_on_site,
    )


def printed_name(user_id: str) -> str:
    """The printed name the synthetic staff sign with."""
    return f"{user_id} (synthetic staff)"


def signed(command: C, at: datetime) -> C:
    """`command` electronically signed at `at` by its actor, as its author, when its step is one that may be signed
    (always, or when a condition holds: a careful user signs those whatever the grade); else `command` itself.

    The synthetic paths sign as the API does once the signer's PIN is checked (facade/signing.py)."""
    kind = str(getattr(command, "kind"))  # noqa: B009
    if COMMANDS[kind].signed is Signed.NEVER or (
        COMMANDS[kind].signed_when == CORRECTION_ONLY and getattr(command, "correction", None) is None
    ):
        return command
    actor: Actor = getattr(command, "actor")  # noqa: B009
    unsigned = command.model_copy(update={SIGNED_FIELD: None})
    return sign(
        unsigned,
        signer_user_id=actor.user_id,
        printed_name=printed_name(actor.user_id),
        signed_at=at,
        meaning=SignatureMeaning.AUTHOR,
    )


def amended(command: C, **changes: Any) -> C:
    """`command` with some fields changed, validated again: a test's special step built on the path's own. A signed
    command is signed again, by the same signer at the same moment, over its new content."""
    signature = getattr(command, SIGNED_FIELD, None)
    changed = type(command).model_validate({**dict(command), SIGNED_FIELD: None, **changes})
    return signed(changed, signature.signed_at) if signature is not None else changed


# ---------------------------------------------------------------- the path


def consent_and_collection(
    patient: PathPatient, enrolled_at: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL, pace: Pace = PACE
) -> list[Step]:
    """Eligibility confirmed and consent signed when enrolled, cells collected `pace` days later."""
    rules = protocol.schedule
    enrolled_on = site_date(enrolled_at, rules)
    collected_on = enrolled_on + timedelta(days=pace.collected_days_after_consent)
    confirmation = cmd.ConfirmEligibility(actor=patient.actor(Role.INVESTIGATOR))
    return [
        Step(enrolled_at, signed(confirmation, enrolled_at), Milestone.ELIGIBILITY_CONFIRMED),
        Step(enrolled_at, signed(consent(patient, enrolled_on, protocol), enrolled_at), Milestone.CONSENTED),
        Step(site_moment(collected_on, STAFF_HOUR, rules), apheresis(patient, collected_on), Milestone.COLLECTED),
    ]


def after_collection(
    patient: PathPatient,
    collected_on: date,
    protocol: TrialProtocol = CURRENT_PROTOCOL,
    pace: Pace = PACE,
    collection_number: int = 1,
    infused_at: datetime | None = None,
) -> list[Step]:
    """The cells shipped to the manufacturer on the collection day and manufactured from the next; release,
    shipment to the site, receipt and storage, and prescription `pace` days after collection; every lymphodepletion
    dose; and the infusion on the window's first day (or at `infused_at`), the bag thawed just before."""
    rules = protocol.schedule
    released_on = collected_on + timedelta(days=pace.manufacturing_days)
    released_at = site_moment(released_on, STAFF_HOUR, rules)
    starts_on = released_on + timedelta(days=pace.lymphodepletion_days_after_release)
    infused_on = last_dose_on(starts_on, protocol) + timedelta(days=pace.infusion_gap(protocol))
    infused_at = infused_at or site_moment(infused_on, STAFF_HOUR, rules)
    release = product_release(patient, released_on, protocol, collection_number)
    infused = infusion(patient, infused_at, protocol, collection_number)
    shipped_at = site_moment(collected_on, STAFF_HOUR, rules) + timedelta(hours=2)
    received_at = site_moment(collected_on + timedelta(days=1), STAFF_HOUR, rules)

    def custody(step: cmd.CustodyStep, at: datetime) -> Step:
        return Step(at, hand_off(patient, step, at, collection_number))

    return [
        custody("shipped_to_manufacturer", shipped_at),
        custody("received_by_manufacturer", received_at),
        custody("manufacturing_started", received_at + timedelta(hours=1)),
        Step(released_at, signed(release, released_at), Milestone.RELEASED),
        # Shipped, received and stored on the release day (the path's moments are the staff's morning).
        custody("shipped_to_site", released_at),
        custody("received_at_site", released_at),
        custody("stored", released_at),
        Step(released_at, prescription(patient, starts_on, protocol), Milestone.PRESCRIBED),
        *lymphodepletion_doses(patient, starts_on, protocol),
        thaw_before(patient, infused_at, collection_number),
        Step(infused_at, signed(infused, infused_at), Milestone.INFUSED),
    ]


def path_to(
    milestone: Milestone,
    patient: PathPatient,
    enrolled_at: datetime,
    protocol: TrialProtocol = CURRENT_PROTOCOL,
    pace: Pace = PACE,
    infused_at: datetime | None = None,
) -> list[Step]:
    """The steps of a patient enrolled at `enrolled_at`, in order, up to and including `milestone`."""
    steps = consent_and_collection(patient, enrolled_at, protocol, pace)
    collected = steps[-1].command
    assert isinstance(collected, cmd.RecordApheresis)
    steps += after_collection(patient, collected.collected_on, protocol, pace, infused_at=infused_at)
    return steps[: next(i for i, step in enumerate(steps) if step.reaches is milestone) + 1]


def enrollment_day(infused_on: date, protocol: TrialProtocol = CURRENT_PROTOCOL, pace: Pace = PACE) -> date:
    """The day to enroll so that the path's infusion falls on `infused_on`."""
    drug_days = max(d.days for d in protocol.lymphodepletion.drugs)
    days = (
        pace.collected_days_after_consent
        + pace.manufacturing_days
        + pace.lymphodepletion_days_after_release
        + drug_days
        - 1
        + pace.infusion_gap(protocol)
    )
    return infused_on - timedelta(days=days)


def entered_late(
    milestone: Milestone,
    patient: PathPatient,
    day_zero: date,
    protocol: TrialProtocol = CURRENT_PROTOCOL,
    pace: Pace = PACE,
    infused_at: datetime | None = None,
) -> list[Step]:
    """The path of a patient whose infusion falls (or would fall) on `day_zero`, at `infused_at` if given: for a
    site entering its records late, every step dated in the past and all sent now."""
    enrolled_at = site_moment(enrollment_day(day_zero, protocol, pace), STAFF_HOUR, protocol.schedule)
    return path_to(milestone, patient, enrolled_at, protocol, pace, infused_at)


# ---------------------------------------------------------------- beyond infusion


def scheduled_item(
    patient: PathPatient,
    code: str,
    on: date,
    protocol: TrialProtocol = CURRENT_PROTOCOL,
    marrow: MarrowAssessment | None = None,
) -> list[cmd.StaffCommand]:
    """What the site records on a scheduled item's day: the day-28 marrow (MRD, given as `marrow`), chemotherapy
    resumed (CHEMO), or the visit, with a disease assessment when `marrow` is given."""
    if code == "MRD":
        assert marrow is not None, "the MRD item is a marrow"
        return [cmd.RecordDiseaseAssessment(actor=patient.actor(Role.LABORATORY), marrow=marrow)]
    if code == "CHEMO":
        physician = patient.actor(Role.PHYSICIAN)
        return [cmd.RecordChemotherapyResumed(actor=physician, resumed_on=on, from_protocol_step=True)]
    visit: list[cmd.StaffCommand] = [
        cmd.RecordVisit(actor=patient.actor(Role.RESEARCH_COORDINATOR), visit_code=code, visit_date=on)
    ]
    if marrow is not None:
        visit.append(cmd.RecordDiseaseAssessment(actor=patient.actor(Role.PHYSICIAN), marrow=marrow))
    return visit


# ---------------------------------------------------------------- sending the steps


async def send(
    steps: Iterable[Step],
    record: Callable[[cmd.StaffCommand], Awaitable[R]],
    move_to: Callable[[datetime], Awaitable[object]] | None = None,
) -> list[R]:
    """Each step's command through `record` (a trial client's or a test's), in order; with `move_to`, the clock
    is moved to each step's moment first, else every step is sent now (entered late)."""
    answers = []
    for step in steps:
        if move_to is not None:
            await move_to(step.at)
        answers.append(await record(step.command))
    return answers


class DecidedJourney:
    """The pure decider as the client: one patient's state, and a clock that only moves forward, firing the timers
    due on the way as the workflow's main loop does."""

    def __init__(
        self, study_id: str, now: datetime, protocol: TrialProtocol = CURRENT_PROTOCOL, *, chain_of_custody: bool = True
    ) -> None:
        self.protocol = protocol
        self.chain_of_custody = chain_of_custody  # as the workflow enrolls now: hand-offs required
        self.state: JourneyState = initial_state(study_id)
        self.now = now
        self.events: list[Event] = []

    def do(self, command: cmd.Command) -> list[Event]:
        """Decide `command` now; a step that may be signed is signed now by its actor unless it already is."""
        if command.signature is None:
            command = signed(command, self.now)
        events = decide(self.state, command, self.now, self.protocol, chain_of_custody=self.chain_of_custody)
        self.state = fold(self.state, events)
        self.events.extend(events)
        if self.state.protocol_version and self.state.protocol_version != self.protocol.version:
            self.protocol = protocol_for_version(self.state.protocol_version)  # moved onto an amendment
        return events

    def run_timers_until(self, until: datetime) -> list[Event]:
        """Fire every timer due up to `until`, each at its own time, then move the clock to `until`."""
        fired: list[Event] = []
        while due := due_timers(self.state, self.protocol, until):
            first = due[0]
            self.now = max(self.now, first.due_at)
            fired.extend(self.do(first.command))
        self.now = max(self.now, until)
        return fired

    def walk(self, steps: Iterable[Step], *, entered_late: bool = False) -> list[list[Event]]:
        """Decide each step at its moment (or, entered late, all at the clock's `now`); the events of each."""
        decided = []
        for step in steps:
            if not entered_late:
                self.run_timers_until(step.at)
            decided.append(self.do(step.command))
        return decided
