"""Who must know what, when something happens on a journey. Messages name the study id, never the child.

A notification is a closed list of facts (`NotificationFacts`: the step, dates, grades, counts, codes the protocol or
the system made, the role to act), and its subject and body are rendered from those facts alone: text a person
typed (a lot number, a reason, an adverse event's term, a regimen) never reaches an e-mail, a webhook or a log line,
for it may name a family, a place or a child. Each notification's key makes its delivery idempotent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from domain.journey import events as ev
from domain.journey.calendar import ITEM_ROLES
from domain.journey.events import Event
from domain.journey.phases import ExitReason
from domain.protocol import FrozenModel
from domain.record_limits import ActorUserId
from domain.roles import Role
from domain.slots import NoSlotReason, no_slot_words

# What the protocol or the system names, never a person: visit codes, drugs, eras, criteria, report ids, chains of
# identity, reconciliation findings. Not constrained further: a notification that failed its own model would fail
# the journey's workflow task, and these values come from the domain, never from a person's typing.
Code = str
# The reconciliation's and the channels' own words (codes, dates, sequence numbers, HTTP and SMTP answers).
SYSTEM_WORDS_MAX_LENGTH = 1000


class Urgency(StrEnum):
    ROUTINE = "routine"
    SOON = "soon"  # within the working day
    IMMEDIATE = "immediate"  # now, day or night


class Topic(StrEnum):
    """What a notification is about: each has its own wording, filled from the facts."""

    ELIGIBLE = "eligible"
    SCREEN_FAILURE = "screen_failure"
    ELIGIBILITY_CONFIRMED = "eligibility_confirmed"
    CONSENT_SIGNED = "consent_signed"
    SLOT_BOOKED = "slot_booked"  # the apheresis unit's collection date and the product's expected release
    NO_SLOT = "no_slot"  # the calendar had no slot: supervisors book one by hand
    CELLS_COLLECTED = "cells_collected"
    PRODUCT_RELEASED = "product_released"
    MANUFACTURING_FAILED = "manufacturing_failed"
    TEMPERATURE_EXCURSION = "temperature_excursion"
    LYMPHODEPLETION_PRESCRIBED = "lymphodepletion_prescribed"
    PRODUCT_BELOW_MINIMUM = "product_below_minimum"
    DOSE_DEVIATION = "dose_deviation"
    REMANUFACTURE = "remanufacture"
    OUT_OF_SPEC_TO_INFUSE = "out_of_spec_to_infuse"
    INFUSION_WINDOW_OPEN = "infusion_window_open"
    INFUSION_WINDOW_CLOSED = "infusion_window_closed"
    LATE_INFUSION_APPROVED = "late_infusion_approved"
    INFUSION_LATE_AFTER_THAW = "infusion_late_after_thaw"  # the thawed cells' limit passed: the investigator decides
    INFUSED = "infused"
    EXPEDITED_REPORT_DUE = "expedited_report_due"
    EXPEDITED_REPORT_OVERDUE = "expedited_report_overdue"
    EXPEDITED_REPORT_LATE = "expedited_report_late"
    VISIT_WINDOW_OPENS = "visit_window_opens"
    VISIT_WINDOW_CLOSING = "visit_window_closing"
    VISIT_MISSED = "visit_missed"
    DAILY_ASSESSMENTS_DUE = "daily_assessments_due"
    DAILY_ASSESSMENT_MISSED = "daily_assessment_missed"
    ERA_BEGINS = "era_begins"
    RELAPSE = "relapse"
    MOLECULAR_RECURRENCE = "molecular_recurrence"
    DEATH = "death"
    OFF_STUDY = "off_study"
    JOURNEY_COMPLETE = "journey_complete"
    NOT_DELIVERED = "not_delivered"
    SIGNING_LOCKED = "signing_locked"
    RECONCILIATION = "reconciliation"
    ENROLLMENT_PAUSED = "enrollment_paused"  # the safety stopping rule fired: the DSMB must decide
    TRIAL_STOPPED = "trial_stopped"  # the DSMB stopped the trial: off study before infusion, safety follow-up after
    PROTOCOL_AMENDED = "protocol_amended"  # a re-consented patient now follows an amendment's calendar
    # A message queued by an earlier version, before notifications were facts: its text is not carried over.
    EARLIER_VERSION = "earlier_version"


class DrugPlan(FrozenModel):
    drug: Code
    mg_per_day: float
    days: int


class NotificationFacts(FrozenModel):
    """Everything a notification may say: no field holds text a person typed."""

    step: Code | None = None  # a visit's code, a drug, an era, a way off study
    on: date | None = None
    window_opens: date | None = None
    window_closes: date | None = None
    due_at: datetime | None = None
    report_id: Code | None = None
    crs_grade: int | None = None
    icans_grade: int | None = None
    ctcae_grade: int | None = None
    serious: bool | None = None
    died: bool | None = None
    collection_number: int | None = None
    chain_of_identity: Code | None = None
    day_number: int | None = None
    dose_mg: float | None = None
    prescribed_mg: float | None = None
    cells: float | None = None
    minimum_cells: float | None = None
    temperature_c: float | None = None  # the shipper's logger, read at the site's receipt
    expected_release: date | None = None  # a booked collection's product (site date)
    searched_weeks: int | None = None  # how far ahead the slot calendar looked
    plan: tuple[DrugPlan, ...] = ()
    assessments: tuple[Code, ...] = ()  # daily monitoring's assessments (crs, icans)
    until_day: int | None = None  # daily monitoring's last day after infusion
    criteria: tuple[Code, ...] = ()  # failed eligibility criteria, by code
    recollection_allowed: bool | None = None
    user_id: ActorUserId | None = None  # a staff member's id (signing locked)
    failed_attempts: int | None = None
    until: datetime | None = None
    finding: Code | None = None  # a reconciliation mismatch's kind
    system_words: str | None = Field(default=None, max_length=SYSTEM_WORDS_MAX_LENGTH)
    # The stopping rule when it fired: DLTs among evaluable patients, and the posterior P(rate > threshold).
    dose_limiting_toxicities: int | None = None
    evaluable_patients: int | None = None
    posterior_probability: float | None = None


class Notification(FrozenModel):
    key: str  # stable across retries: study id, event sequence, role
    study_id: str
    role: Role
    urgency: Urgency
    topic: Topic
    facts: NotificationFacts = NotificationFacts()
    # For NOT_DELIVERED: the message that reached nobody.
    undelivered: Notification | None = None

    @model_validator(mode="before")
    @classmethod
    def _earlier_version(cls, data: Any) -> Any:
        """A message an earlier version queued (subject and body as text) is kept to its key, role and urgency."""
        if isinstance(data, dict) and "topic" not in data and "subject" in data:
            kept = {k: data[k] for k in ("key", "study_id", "role", "urgency") if k in data}
            return {**kept, "topic": Topic.EARLIER_VERSION}
        return data

    @property
    def subject(self) -> str:
        return f"{self.study_id}: {_subject(self)}"

    @property
    def body(self) -> str:
        return _body(self)


# Who covers for a role that cannot be reached: the investigator answers for the site's staff, the supervisor for
# the investigator; nobody stands above the supervisor, whose undelivered messages stay in the log and the ledger.
DEFAULT_ESCALATION_ROLES: dict[Role, Role] = {
    **{
        role: Role.INVESTIGATOR
        for role in Role
        if role not in (Role.SYSTEM, Role.INVESTIGATOR, Role.SUPERVISOR, Role.DSMB)
    },
    Role.INVESTIGATOR: Role.SUPERVISOR,
    Role.DSMB: Role.SUPERVISOR,  # the board sits outside the site: the supervisor covers, never the investigator
    Role.SUPERVISOR: Role.SUPERVISOR,
}
ESCALATION_KEY_SUFFIX = "/escalation"

_ERAS = {
    "toxicity_observation": "Toxicity observation",
    "early_follow_up": "Early follow-up",
    "follow_up": "Follow-up",
    "long_term_follow_up": "Long-term follow-up",
}


def _note(event: Event, role: Role, urgency: Urgency, topic: Topic, **facts: Any) -> Notification:
    return Notification(
        key=f"{event.study_id}/{event.sequence}/{role.value}",
        study_id=event.study_id,
        role=role,
        urgency=urgency,
        topic=topic,
        facts=NotificationFacts(**facts),
    )


def _trigger_facts(trigger: ev.EventPayload | None) -> dict[str, Any]:
    """The grades of the entry that opened an expedited report (never its typed words)."""
    match trigger:
        case ev.CrsAssessed():
            return {"crs_grade": trigger.grade}
        case ev.IcansAssessed():
            return {"icans_grade": trigger.grade}
        case ev.AdverseEventRecorded():
            ae = trigger.adverse_event
            return {"ctcae_grade": ae.ctcae_grade, "serious": ae.serious}
        case ev.PatientDied():
            return {"died": True}
    return {}


def notifications_for(event: Event, recorded_with: tuple[Event, ...] = ()) -> list[Notification]:
    """What `event` asks of which role; `recorded_with` (the events recorded with it) names a report's trigger."""
    p = event.payload
    r, s, i = Urgency.ROUTINE, Urgency.SOON, Urgency.IMMEDIATE
    match p:
        # ---- screening and consent
        case ev.EligibilityAssessed() if p.result.eligible:
            return [_note(event, Role.INVESTIGATOR, r, Topic.ELIGIBLE)]
        case ev.ScreenFailed():
            criteria = tuple(f.code for f in p.failed)
            return [_note(event, Role.RESEARCH_COORDINATOR, r, Topic.SCREEN_FAILURE, criteria=criteria)]
        case ev.EligibilityConfirmed():
            return [_note(event, Role.INVESTIGATOR, r, Topic.ELIGIBILITY_CONFIRMED)]
        case ev.ConsentSigned():
            return [_note(event, Role.APHERESIS_UNIT, r, Topic.CONSENT_SIGNED)]
        # ---- collection and manufacturing
        case ev.SlotBooked():
            booked = {
                "collection_number": p.collection_number,
                "on": p.collection_date,
                "expected_release": p.expected_release,
            }
            return [_note(event, Role.APHERESIS_UNIT, r, Topic.SLOT_BOOKED, **booked)]
        case ev.SlotNotBooked():
            missing = {
                "collection_number": p.collection_number,
                "step": p.reason.value,
                "on": p.searched_from,
                "searched_weeks": p.searched_weeks,
            }
            return [_note(event, Role.SUPERVISOR, i, Topic.NO_SLOT, **missing)]
        case ev.ApheresisCollected():
            facts = {"collection_number": p.collection_number, "chain_of_identity": p.chain_of_identity}
            return [_note(event, Role.CELL_LAB, r, Topic.CELLS_COLLECTED, **facts)]
        case ev.ProductReleased():
            facts = {"cells": p.total_viable_car_cells, "on": p.released_on, "chain_of_identity": p.chain_of_identity}
            return [_note(event, role, s, Topic.PRODUCT_RELEASED, **facts) for role in (Role.PHARMACY, Role.PHYSICIAN)]
        case ev.ManufacturingFailed():
            roles = (Role.INVESTIGATOR, Role.APHERESIS_UNIT) if p.recollection_allowed else (Role.INVESTIGATOR,)
            allowed = p.recollection_allowed
            return [_note(event, role, s, Topic.MANUFACTURING_FAILED, recollection_allowed=allowed) for role in roles]
        case ev.CustodyHandOffRecorded() if p.excursion and p.supersedes is None:
            facts = {"chain_of_identity": p.chain_of_identity, "temperature_c": p.logger_max_temperature_c}
            roles = (Role.CELL_LAB, Role.INVESTIGATOR)
            return [_note(event, role, s, Topic.TEMPERATURE_EXCURSION, **facts) for role in roles]
        # ---- lymphodepletion and infusion
        case ev.LymphodepletionPrescribed():
            plan = tuple(DrugPlan(drug=drug, mg_per_day=mg, days=p.days[drug]) for drug, mg in p.daily_dose_mg.items())
            notes = [_note(event, Role.PHARMACY, s, Topic.LYMPHODEPLETION_PRESCRIBED, plan=plan)]
            if p.product.classification == "below_minimum":
                product = {"cells": p.product.available_cells, "minimum_cells": p.product.dose_range.min_cells}
                notes.append(_note(event, Role.INVESTIGATOR, s, Topic.PRODUCT_BELOW_MINIMUM, **product))
            return notes
        case ev.LymphodepletionDoseGiven() if p.deviation_reason is not None:
            facts = {"day_number": p.day_number, "step": p.drug, "dose_mg": p.dose_mg, "prescribed_mg": p.prescribed_mg}
            return [_note(event, Role.INVESTIGATOR, s, Topic.DOSE_DEVIATION, **facts)]
        case ev.OutOfSpecProductDecided() if p.decision == "remanufacture":
            return [_note(event, Role.CELL_LAB, s, Topic.REMANUFACTURE)]
        case ev.OutOfSpecProductDecided():
            return [_note(event, Role.PHYSICIAN, s, Topic.OUT_OF_SPEC_TO_INFUSE)]
        case ev.LymphodepletionCompleted():
            window = {"window_opens": p.infusion_window_opens, "window_closes": p.infusion_window_closes}
            return [_note(event, Role.PHYSICIAN, s, Topic.INFUSION_WINDOW_OPEN, **window)]
        case ev.InfusionWindowExpired():
            return [_note(event, Role.INVESTIGATOR, i, Topic.INFUSION_WINDOW_CLOSED, on=p.window_closed_on)]
        case ev.InfusionLateAfterThaw():
            facts = {"chain_of_identity": p.chain_of_identity, "due_at": p.limit_passed_at}
            return [_note(event, Role.INVESTIGATOR, i, Topic.INFUSION_LATE_AFTER_THAW, **facts)]
        case ev.InfusionWindowDeviationApproved():
            return [_note(event, Role.PHYSICIAN, s, Topic.LATE_INFUSION_APPROVED)]
        case ev.CellsInfused():
            started = next((e.payload for e in recorded_with if isinstance(e.payload, ev.DailyMonitoringStarted)), None)
            infused = {"on": p.day_zero, "until_day": started.until_day if started else None}
            return [_note(event, role, s, Topic.INFUSED, **infused) for role in (Role.NURSE, Role.PHYSICIAN)]
        case ev.DailyAssessmentsDue() if p.assessments:
            facts = {"day_number": p.day_number, "on": p.on, "assessments": p.assessments}
            return [_note(event, Role.NURSE, s, Topic.DAILY_ASSESSMENTS_DUE, **facts)]
        case ev.DailyAssessmentMissed():
            facts = {"day_number": p.day_number, "on": p.on, "assessments": (p.assessment,)}
            return [
                _note(event, role, s, Topic.DAILY_ASSESSMENT_MISSED, **facts)
                for role in (Role.NURSE, Role.INVESTIGATOR)
            ]
        # ---- safety
        case ev.ExpeditedReportOpened():
            trigger = next((e.payload for e in recorded_with if e.sequence == p.trigger_sequence), None)
            facts = {"report_id": p.report_id, "due_at": p.due_at, **_trigger_facts(trigger)}
            return [_note(event, Role.INVESTIGATOR, i, Topic.EXPEDITED_REPORT_DUE, **facts)]
        case ev.ExpeditedReportOverdue():
            facts = {"report_id": p.report_id, "due_at": p.due_at}
            return [
                _note(event, role, i, Topic.EXPEDITED_REPORT_OVERDUE, **facts)
                for role in (Role.INVESTIGATOR, Role.SUPERVISOR)
            ]
        case ev.ExpeditedReportSubmitted() if not p.on_time:
            return [_note(event, Role.SUPERVISOR, r, Topic.EXPEDITED_REPORT_LATE, report_id=p.report_id)]
        # ---- follow-up
        case ev.VisitReminderIssued():
            topic = Topic.VISIT_WINDOW_OPENS if p.reminder == "window_opens" else Topic.VISIT_WINDOW_CLOSING
            role = ITEM_ROLES.get(p.visit_code, Role.RESEARCH_COORDINATOR)
            reminder_window: dict[str, object] = {"window_opens": p.window_opens, "window_closes": p.window_closes}
            return [_note(event, role, r, topic, step=p.visit_code, **reminder_window)]
        case ev.VisitMissed():
            missed = {"step": p.visit_code, "on": p.window_closed_on}
            return [
                _note(event, role, s, Topic.VISIT_MISSED, **missed)
                for role in (Role.RESEARCH_COORDINATOR, Role.INVESTIGATOR)
            ]
        case ev.FollowUpEraStarted():
            era = {"step": p.era.value, "on": p.started_on}
            return [_note(event, Role.RESEARCH_COORDINATOR, r, Topic.ERA_BEGINS, **era)]
        case ev.RelapseDiagnosed():
            return [_note(event, Role.INVESTIGATOR, i, Topic.RELAPSE, on=p.diagnosed_on)]
        case ev.MolecularRecurrenceConfirmed():
            return [_note(event, Role.INVESTIGATOR, s, Topic.MOLECULAR_RECURRENCE, on=p.confirmed_on)]
        # ---- the end
        case ev.PatientDied():
            return [_note(event, role, i, Topic.DEATH) for role in (Role.INVESTIGATOR, Role.SUPERVISOR)]
        case ev.ConsentWithdrawn() | ev.LostToFollowUp() | ev.TakenOffStudy() | ev.InfusionNotGiven():
            return [
                _note(event, role, s, Topic.OFF_STUDY, step=p.type)
                for role in (Role.INVESTIGATOR, Role.RESEARCH_COORDINATOR)
            ]
        case ev.TrialStopped():
            # Before infusion the treatment must stop now; after it, the follow-up goes on.
            urgency, step = (i, ExitReason.TRIAL_STOPPED.value) if p.off_study else (s, "safety_follow_up")
            return [
                _note(event, role, urgency, Topic.TRIAL_STOPPED, step=step, on=p.on)
                for role in (Role.INVESTIGATOR, Role.RESEARCH_COORDINATOR)
            ]
        case ev.JourneyCompleted():
            return [_note(event, Role.RESEARCH_COORDINATOR, r, Topic.JOURNEY_COMPLETE)]
        case ev.ProtocolVersionChanged():
            return [_note(event, Role.RESEARCH_COORDINATOR, r, Topic.PROTOCOL_AMENDED, step=p.to_version)]
    return []


def escalation_for(notification: Notification, failure_summary: str, to: Role | None = None) -> Notification:
    """The message to `to` (by default the role that covers for the original one) when `notification` could not
    be delivered: what failed, and what the original asked, so someone acts on it."""
    role = to if to is not None else DEFAULT_ESCALATION_ROLES[notification.role]
    return Notification(
        key=notification.key + ESCALATION_KEY_SUFFIX,
        study_id=notification.study_id,
        role=role,
        urgency=Urgency.IMMEDIATE if notification.urgency is Urgency.IMMEDIATE else Urgency.SOON,
        topic=Topic.NOT_DELIVERED,
        facts=NotificationFacts(system_words=failure_summary[:SYSTEM_WORDS_MAX_LENGTH]),
        undelivered=notification,
    )


def signing_locked_alert(study_id: str, user_id: str, failed_attempts: int, locked_until: datetime) -> Notification:
    """To supervisors at once: someone's signing locked after wrong PINs (a forgotten PIN, or someone else trying)."""
    until = locked_until.astimezone(UTC)
    return Notification(
        key=f"{study_id}/signing-locked/{user_id}/{until:%Y%m%dT%H%M%SZ}",
        study_id=study_id,
        role=Role.SUPERVISOR,
        urgency=Urgency.IMMEDIATE,
        topic=Topic.SIGNING_LOCKED,
        facts=NotificationFacts(user_id=user_id, failed_attempts=failed_attempts, until=until),
    )


# ---------------------------------------------------------------- the words, from the facts alone


def _role_words(role: Role) -> str:
    return role.value.replace("_", " ")


def _code_words(code: str | None) -> str:
    return (code or "").replace("_", " ")


def _grades(f: NotificationFacts) -> str:
    found = [
        *([f"CRS grade {f.crs_grade}"] if f.crs_grade is not None else []),
        *([f"ICANS grade {f.icans_grade}"] if f.icans_grade is not None else []),
        *(
            [f"an adverse event of CTCAE grade {f.ctcae_grade}" + (", serious" if f.serious else "")]
            if f.ctcae_grade is not None
            else []
        ),
        *(["a death on study"] if f.died else []),
    ]
    return ", ".join(found) or "an entry of the record"


def _subject(n: Notification) -> str:
    f, t = n.facts, n.topic
    due = f.due_at.isoformat() if f.due_at else ""
    subjects: dict[Topic, str] = {
        Topic.ELIGIBLE: "eligible at screening",
        Topic.SCREEN_FAILURE: "screen failure",
        Topic.ELIGIBILITY_CONFIRMED: "eligibility confirmed",
        Topic.CONSENT_SIGNED: "consent signed",
        Topic.SLOT_BOOKED: f"apheresis booked for {_day(f.on)}",
        Topic.NO_SLOT: "NO apheresis or manufacturing slot free",
        Topic.CELLS_COLLECTED: "cells collected",
        Topic.PRODUCT_RELEASED: "product released",
        Topic.MANUFACTURING_FAILED: "manufacturing failed",
        Topic.TEMPERATURE_EXCURSION: "cells shipped too warm: infusion on hold",
        Topic.LYMPHODEPLETION_PRESCRIBED: "lymphodepletion prescribed",
        Topic.PRODUCT_BELOW_MINIMUM: "product below minimum dose",
        Topic.DOSE_DEVIATION: "lymphodepletion dose deviation",
        Topic.REMANUFACTURE: "re-manufacture",
        Topic.OUT_OF_SPEC_TO_INFUSE: "out-of-specification product to infuse",
        Topic.INFUSION_WINDOW_OPEN: "infusion window open",
        Topic.INFUSION_WINDOW_CLOSED: "infusion window closed",
        Topic.LATE_INFUSION_APPROVED: "late infusion approved",
        Topic.INFUSION_LATE_AFTER_THAW: "thawed cells not infused in time: your decision now",
        Topic.INFUSED: "infused: day 0",
        Topic.EXPEDITED_REPORT_DUE: f"expedited safety report due by {due}",
        Topic.EXPEDITED_REPORT_OVERDUE: "expedited report OVERDUE",
        Topic.EXPEDITED_REPORT_LATE: "expedited report submitted late",
        Topic.VISIT_WINDOW_OPENS: f"{f.step} reminder",
        Topic.VISIT_WINDOW_CLOSING: f"{f.step} reminder",
        Topic.VISIT_MISSED: f"{f.step} missed",
        Topic.DAILY_ASSESSMENTS_DUE: f"daily {_assessment_words(f)} due today (day {f.day_number})",
        Topic.DAILY_ASSESSMENT_MISSED: f"daily {_assessment_words(f)} of day {f.day_number} missed",
        Topic.ERA_BEGINS: f"{_era_words(f.step).lower()} begins",
        Topic.RELAPSE: "relapse",
        Topic.MOLECULAR_RECURRENCE: "molecular recurrence",
        Topic.DEATH: "death",
        Topic.OFF_STUDY: "off study",
        Topic.JOURNEY_COMPLETE: "follow-up complete",
        Topic.SIGNING_LOCKED: f"electronic signing locked for {f.user_id}",
        Topic.RECONCILIATION: f"the journey disagrees with the trial record ({_code_words(f.finding)})",
        Topic.EARLIER_VERSION: f"a message for the {_role_words(n.role)}",
        Topic.ENROLLMENT_PAUSED: "ENROLLMENT PAUSED by the safety stopping rule",
        Topic.TRIAL_STOPPED: "TRIAL STOPPED by the DSMB",
        Topic.PROTOCOL_AMENDED: f"now follows protocol {f.step}",
    }
    if t is Topic.NOT_DELIVERED and n.undelivered is not None:
        return f"NOT DELIVERED to the {_role_words(n.undelivered.role)}: {_subject(n.undelivered)}"
    return subjects.get(t, _code_words(t.value))


def _era_words(step: str | None) -> str:
    return _ERAS.get(step or "", _code_words(step))


def _body(n: Notification) -> str:
    f, t, sid = n.facts, n.topic, n.study_id
    match t:
        case Topic.ELIGIBLE:
            return "Confirm eligibility."
        case Topic.SCREEN_FAILURE:
            failed = ", ".join(_code_words(code) for code in f.criteria)
            return (
                f"Screen failure ({len(f.criteria)} criteria not met: {failed}; the measured values are in the record)."
                " The patient is not enrolled: file the screening log."
            )
        case Topic.ELIGIBILITY_CONFIRMED:
            return "Obtain the guardian's consent."
        case Topic.CONSENT_SIGNED:
            return "Schedule apheresis."
        case Topic.SLOT_BOOKED:
            return (
                f"Collection {f.collection_number} is booked in the site's calendar for {_day(f.on)}; its product's "
                f"expected release is {_day(f.expected_release)}. Collect the cells that day and record the apheresis."
            )
        case Topic.NO_SLOT:
            words = ""
            if f.step in {reason.value for reason in NoSlotReason} and f.on and f.searched_weeks:
                words = no_slot_words(NoSlotReason(f.step), f.on, f.searched_weeks)
            return (
                f"Collection {f.collection_number}: {words or 'no slot booked'}. The patient is consented and waits "
                "for apheresis: schedule the collection on the agreed day (`trial slots` shows the calendar)."
            )
        case Topic.CELLS_COLLECTED:
            return (
                f"Collection {f.collection_number} is on its way for manufacturing, chain of identity "
                f"{f.chain_of_identity}: manufacture, then record the product's release or a failure."
            )
        case Topic.PRODUCT_RELEASED:
            return (
                f"Product for chain of identity {f.chain_of_identity} released on {_day(f.on)} "
                f"({f.cells or 0:.2e} CAR+ cells; its lot is in the record): plan lymphodepletion."
            )
        case Topic.MANUFACTURING_FAILED:
            then = "One re-collection is allowed: schedule apheresis." if f.recollection_allowed else "Off study."
            return f"Manufacturing failed (the reason is in the record). {then}"
        case Topic.TEMPERATURE_EXCURSION:
            return (
                f"The shipper's logger for chain of identity {f.chain_of_identity} read {f.temperature_c or 0:g} °C "
                "at the site's receipt, warmer than the protocol allows (a deviation). The infusion is held until the "
                "cell lab decides: release the product for infusion as a deviation, or reject it."
            )
        case Topic.LYMPHODEPLETION_PRESCRIBED:
            doses = ", ".join(f"{d.drug} {d.mg_per_day:g} mg/day x {d.days}" for d in f.plan)
            return f"Prepare {doses}."
        case Topic.PRODUCT_BELOW_MINIMUM:
            return (
                f"The product holds {f.cells or 0:.2e} viable CAR+ cells, below the minimum of "
                f"{f.minimum_cells or 0:.2e} for this weight: decide now, infuse as a deviation or re-manufacture."
            )
        case Topic.DOSE_DEVIATION:
            return (
                f"Day {f.day_number} {f.step}: {f.dose_mg or 0:g} mg given, {f.prescribed_mg or 0:g} mg prescribed. "
                "Review the dose deviation (the reason is in the record)."
            )
        case Topic.REMANUFACTURE:
            return "The investigator chose to re-manufacture the product: manufacture again and record the release."
        case Topic.OUT_OF_SPEC_TO_INFUSE:
            return "The investigator decided to infuse the product below the minimum dose as a protocol deviation."
        case Topic.INFUSION_WINDOW_OPEN:
            return f"Lymphodepletion complete. Infuse between {_day(f.window_opens)} and {_day(f.window_closes)}."
        case Topic.INFUSION_WINDOW_CLOSED:
            return (
                f"The infusion window closed on {_day(f.on)} without an infusion: "
                "approve a late infusion or record it not given."
            )
        case Topic.INFUSION_LATE_AFTER_THAW:
            limit = f.due_at.isoformat() if f.due_at else ""
            return (
                f"The cells for chain of identity {f.chain_of_identity} were thawed and the infusion had not started "
                f"by {limit}, the protocol's limit after thawing. Decide now: approve a late infusion with the reason "
                "(signed), or do not infuse."
            )
        case Topic.LATE_INFUSION_APPROVED:
            return "The investigator approved infusion outside its window (a protocol deviation): infuse and record it."
        case Topic.INFUSED:
            if f.until_day is None:  # a journey infused before daily monitoring was tracked
                return f"Cells infused (day 0: {_day(f.on)}): assess CRS and ICANS as the protocol sets."
            return f"Cells infused (day 0: {_day(f.on)}): assess CRS and ICANS at least daily to day {f.until_day}."
        case Topic.EXPEDITED_REPORT_DUE:
            due = f.due_at.isoformat() if f.due_at else ""
            return f"Report to the sponsor by {due} (report {f.report_id}), then confirm it: {_grades(f)}."
        case Topic.EXPEDITED_REPORT_OVERDUE:
            due = f.due_at.isoformat() if f.due_at else ""
            return (
                f"Expedited report {f.report_id} was due at {due} and is not confirmed: "
                "submit it to the sponsor now and confirm it."
            )
        case Topic.EXPEDITED_REPORT_LATE:
            return f"Expedited report {f.report_id} was submitted after its deadline: review the protocol deviation."
        case Topic.DAILY_ASSESSMENTS_DUE:
            return f"Day {f.day_number} ({_day(f.on)}): assess and record {_assessment_words(f)} today."
        case Topic.DAILY_ASSESSMENT_MISSED:
            return (
                f"The {_assessment_words(f)} assessment of day {f.day_number} ({_day(f.on)}) was not recorded that day "
                "and is recorded as missed: assess the patient now and keep the daily assessments."
            )
        case Topic.VISIT_WINDOW_OPENS:
            return f"The window for {f.step} opens soon ({_window(f)}): schedule it."
        case Topic.VISIT_WINDOW_CLOSING:
            return f"The window for {f.step} is closing ({_window(f)}): complete and record it by the last day."
        case Topic.VISIT_MISSED:
            return (
                f"{f.step} was not done by {_day(f.on)} and is recorded as missed: "
                "contact the family and keep the next visit."
            )
        case Topic.ERA_BEGINS:
            return f"{_era_words(f.step)} begins on {_day(f.on)}: reminders come before each visit window."
        case Topic.RELAPSE:
            return (
                f"Relapse diagnosed on {_day(f.on)} (the findings are in the record). Efficacy follow-up ends; "
                "survival follow-up continues: plan the treatment."
            )
        case Topic.MOLECULAR_RECURRENCE:
            return (
                f"Molecular recurrence confirmed on {_day(f.on)}: MRD positive again after MRD-negativity (the "
                "results are in the record). Not a relapse by itself: review the plan."
            )
        case Topic.DEATH:
            return "Death recorded: review the record and its open safety reports."
        case Topic.OFF_STUDY:
            return f"Off study ({_code_words(f.step)}; the reason is in the record): close the patient's file."
        case Topic.JOURNEY_COMPLETE:
            return "The journey is complete."
        case Topic.PROTOCOL_AMENDED:
            return (
                f"After the family's re-consent the patient now follows protocol {f.step}: its visits and assessments "
                "apply from now on (trial status lists what is due)."
            )
        case Topic.NOT_DELIVERED if n.undelivered is not None:
            original = n.undelivered
            return (
                f"This message to the {_role_words(original.role)} could not be delivered ({f.system_words}). Make "
                f"sure it is acted on, and have the staff directory or the channel fixed. The message: {original.body}"
            )
        case Topic.TRIAL_STOPPED if f.step == ExitReason.TRIAL_STOPPED.value:
            return (
                f"The DSMB stopped the trial on {f.on}. This patient was not yet infused: they are off study, and no "
                "further treatment step (collection, manufacture, lymphodepletion, infusion) is given under the "
                "protocol. Close the patient's file as the protocol says; open safety reports stay open."
            )
        case Topic.TRIAL_STOPPED:
            return (
                f"The DSMB stopped the trial on {f.on}. This patient was infused: the safety follow-up goes on "
                "(visits, toxicity assessments, expedited reports, long-term follow-up) as scheduled."
            )
        case Topic.ENROLLMENT_PAUSED:
            return (
                f"The safety stopping rule fired: {f.dose_limiting_toxicities} dose-limiting toxicities among "
                f"{f.evaluable_patients} evaluable patients, P(toxicity rate above the protocol's threshold) = "
                f"{f.posterior_probability or 0:.3f}. No new enrollment and no new lymphodepletion; infused patients "
                "go on. Only a signed DSMB decision (resume, resume under an amendment, or stop) moves the trial on."
            )
        case Topic.SIGNING_LOCKED:
            until = f"{f.until:%Y-%m-%d %H:%M} UTC" if f.until else "later"
            who = f.user_id
            return (
                f"{f.failed_attempts} wrong signing PINs in a row for {who} while signing an entry for {sid}: "
                f"their signing is locked until {until}. Check with {who} that it was them; if not, have their "
                "credentials revoked. Each attempt is in the refused attempts of the audit trail."
            )
        case Topic.RECONCILIATION:
            return (
                f"Reconciliation found that {f.system_words}. Check the journey (patient-journey-{sid} in the "
                f"Temporal Web UI, `trial status {sid}` and `trial timeline {sid}`) and make sure what is due is done."
            )
    return f"A message for the {_role_words(n.role)} about {sid}: see the patient's record (`trial status {sid}`)."


def _assessment_words(f: NotificationFacts) -> str:
    return ", ".join(a.upper() for a in f.assessments)


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else "(no date)"


def _window(f: NotificationFacts) -> str:
    return f"{_day(f.window_opens)} to {_day(f.window_closes)}"
