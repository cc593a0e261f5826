"""Who must know what, when something happens on a journey. Messages name the study id, never the child.

Bodies say what to do in words computed from the event, never a person's free text (it may name family or places);
each notification's key makes its delivery by the notify activity idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from domain.journey import events as ev
from domain.journey.calendar import ITEM_ROLES
from domain.journey.events import Event
from domain.protocol import FrozenModel
from domain.roles import Role


class Urgency(StrEnum):
    ROUTINE = "routine"
    SOON = "soon"  # within the working day
    IMMEDIATE = "immediate"  # now, day or night


class Notification(FrozenModel):
    key: str  # stable across retries: study id, event sequence, role
    study_id: str
    role: Role
    urgency: Urgency
    subject: str
    body: str


# Who covers for a role that cannot be reached: the investigator answers for the site's staff, the supervisor for
# the investigator; nobody stands above the supervisor, whose undelivered messages stay in the log and the ledger.
DEFAULT_ESCALATION_ROLES: dict[Role, Role] = {
    **{role: Role.INVESTIGATOR for role in Role if role not in (Role.SYSTEM, Role.INVESTIGATOR, Role.SUPERVISOR)},
    Role.INVESTIGATOR: Role.SUPERVISOR,
    Role.SUPERVISOR: Role.SUPERVISOR,
}
ESCALATION_KEY_SUFFIX = "/escalation"

_ERAS = {
    "toxicity_observation": "Toxicity observation",
    "early_follow_up": "Early follow-up",
    "follow_up": "Follow-up",
    "long_term_follow_up": "Long-term follow-up",
}


def _note(event: Event, role: Role, urgency: Urgency, subject: str, body: str) -> Notification:
    return Notification(
        key=f"{event.study_id}/{event.sequence}/{role.value}",
        study_id=event.study_id,
        role=role,
        urgency=urgency,
        subject=f"{event.study_id}: {subject}",
        body=body,
    )


def notifications_for(event: Event) -> list[Notification]:
    """What `event` asks of which role."""
    p = event.payload
    r, s, i = Urgency.ROUTINE, Urgency.SOON, Urgency.IMMEDIATE
    match p:
        # ---- screening and consent
        case ev.EligibilityAssessed() if p.result.eligible:
            return [_note(event, Role.INVESTIGATOR, r, "eligible at screening", "Confirm eligibility.")]
        case ev.ScreenFailed():
            body = (
                "Screen failure: "
                + "; ".join(f.reason for f in p.failed)
                + ". The patient is not enrolled: file the screening log."
            )
            return [_note(event, Role.RESEARCH_COORDINATOR, r, "screen failure", body)]
        case ev.EligibilityConfirmed():
            return [_note(event, Role.INVESTIGATOR, r, "eligibility confirmed", "Obtain the guardian's consent.")]
        case ev.ConsentSigned():
            return [_note(event, Role.APHERESIS_UNIT, r, "consent signed", "Schedule apheresis.")]
        # ---- collection and manufacturing
        case ev.ApheresisCollected():
            body = (
                f"Collection {p.collection_number} is on its way for manufacturing, chain of identity "
                f"{p.chain_of_identity}: manufacture, then record the product's release or a failure."
            )
            return [_note(event, Role.CELL_LAB, r, "cells collected", body)]
        case ev.ProductReleased():
            cells = f"{p.total_viable_car_cells:.2e} CAR+ cells"
            body = f"Product lot {p.lot_number} released ({cells}): plan lymphodepletion."
            return [_note(event, role, s, "product released", body) for role in (Role.PHARMACY, Role.PHYSICIAN)]
        case ev.ManufacturingFailed():
            body = "Manufacturing failed (the reason is in the record). " + (
                "One re-collection is allowed: schedule apheresis." if p.recollection_allowed else "Off study."
            )
            roles = (Role.INVESTIGATOR, Role.APHERESIS_UNIT) if p.recollection_allowed else (Role.INVESTIGATOR,)
            return [_note(event, role, s, "manufacturing failed", body) for role in roles]
        # ---- lymphodepletion and infusion
        case ev.LymphodepletionPrescribed():
            doses = ", ".join(f"{drug} {mg:g} mg/day x {p.days[drug]}" for drug, mg in p.daily_dose_mg.items())
            notes = [_note(event, Role.PHARMACY, s, "lymphodepletion prescribed", f"Prepare {doses}.")]
            if p.product.classification == "below_minimum":
                body = f"{p.product.explanation}: decide now, infuse as a deviation or re-manufacture."
                notes.append(_note(event, Role.INVESTIGATOR, s, "product below minimum dose", body))
            return notes
        case ev.LymphodepletionDoseGiven() if p.deviation_reason is not None:
            body = (
                f"Day {p.day_number} {p.drug}: {p.dose_mg:g} mg given, {p.prescribed_mg:g} mg prescribed. "
                "Review the dose deviation."
            )
            return [_note(event, Role.INVESTIGATOR, s, "lymphodepletion dose deviation", body)]
        case ev.OutOfSpecProductDecided() if p.decision == "remanufacture":
            body = "The investigator chose to re-manufacture the product: manufacture again and record the release."
            return [_note(event, Role.CELL_LAB, s, "re-manufacture", body)]
        case ev.OutOfSpecProductDecided():
            body = "The investigator decided to infuse the product below the minimum dose as a protocol deviation."
            return [_note(event, Role.PHYSICIAN, s, "out-of-specification product to infuse", body)]
        case ev.LymphodepletionCompleted():
            body = (
                f"Lymphodepletion complete. Infuse between {p.infusion_window_opens.isoformat()} and "
                f"{p.infusion_window_closes.isoformat()}."
            )
            return [_note(event, Role.PHYSICIAN, s, "infusion window open", body)]
        case ev.InfusionWindowExpired():
            body = (
                f"The infusion window closed on {p.window_closed_on.isoformat()} without an infusion: "
                "approve a late infusion or record it not given."
            )
            return [_note(event, Role.INVESTIGATOR, i, "infusion window closed", body)]
        case ev.InfusionWindowDeviationApproved():
            body = "The investigator approved infusion outside its window (a protocol deviation): infuse and record it."
            return [_note(event, Role.PHYSICIAN, s, "late infusion approved", body)]
        case ev.CellsInfused():
            body = "Cells infused: assess CRS and ICANS at least daily to day 14."
            return [_note(event, role, s, "infused: day 0", body) for role in (Role.NURSE, Role.PHYSICIAN)]
        # ---- safety
        case ev.ExpeditedReportOpened():
            due = p.due_at.isoformat()
            body = f"Report to the sponsor by {due} (report {p.report_id}), then confirm it: " + "; ".join(p.reasons)
            return [_note(event, Role.INVESTIGATOR, i, f"expedited safety report due by {due}", body)]
        case ev.ExpeditedReportOverdue():
            body = (
                f"Expedited report {p.report_id} was due at {p.due_at.isoformat()} and is not confirmed: "
                "submit it to the sponsor now and confirm it."
            )
            return [
                _note(event, role, i, "expedited report OVERDUE", body) for role in (Role.INVESTIGATOR, Role.SUPERVISOR)
            ]
        case ev.ExpeditedReportSubmitted() if not p.on_time:
            body = f"Expedited report {p.report_id} was submitted after its deadline: review the protocol deviation."
            return [_note(event, Role.SUPERVISOR, r, "expedited report submitted late", body)]
        # ---- follow-up
        case ev.VisitReminderIssued():
            window = f"{p.window_opens.isoformat()} to {p.window_closes.isoformat()}"
            if p.reminder == "window_opens":
                body = f"The window for {p.visit_code} opens soon ({window}): schedule it."
            else:
                body = f"The window for {p.visit_code} is closing ({window}): complete and record it by the last day."
            role = ITEM_ROLES.get(p.visit_code, Role.RESEARCH_COORDINATOR)
            return [_note(event, role, r, f"{p.visit_code} reminder", body)]
        case ev.VisitMissed():
            body = (
                f"{p.visit_code} was not done by {p.window_closed_on.isoformat()} and is recorded as missed: "
                "contact the family and keep the next visit."
            )
            return [
                _note(event, role, s, f"{p.visit_code} missed", body)
                for role in (Role.RESEARCH_COORDINATOR, Role.INVESTIGATOR)
            ]
        case ev.FollowUpEraStarted():
            era = _ERAS.get(p.era.value, p.era.value.replace("_", " "))
            body = f"{era} begins on {p.started_on.isoformat()}: reminders come before each visit window."
            return [_note(event, Role.RESEARCH_COORDINATOR, r, f"{era.lower()} begins", body)]
        case ev.RelapseDiagnosed():
            body = f"Relapse: {p.reason}. Efficacy follow-up ends; survival follow-up continues: plan the treatment."
            return [_note(event, Role.INVESTIGATOR, i, "relapse", body)]
        # ---- the end
        case ev.PatientDied():
            body = "Death recorded: review the record and its open safety reports."
            return [_note(event, role, i, "death", body) for role in (Role.INVESTIGATOR, Role.SUPERVISOR)]
        case ev.ConsentWithdrawn() | ev.LostToFollowUp() | ev.TakenOffStudy() | ev.InfusionNotGiven():
            body = f"Off study ({p.type.replace('_', ' ')}; the reason is in the record): close the patient's file."
            return [_note(event, role, s, "off study", body) for role in (Role.INVESTIGATOR, Role.RESEARCH_COORDINATOR)]
        case ev.JourneyCompleted():
            return [_note(event, Role.RESEARCH_COORDINATOR, r, "follow-up complete", "The journey is complete.")]
    return []


def escalation_for(notification: Notification, failure_summary: str, to: Role | None = None) -> Notification:
    """The message to `to` (by default the role that covers for the original one) when `notification` could not
    be delivered: what failed, and what the original asked, so someone acts on it."""
    role = to if to is not None else DEFAULT_ESCALATION_ROLES[notification.role]
    original_subject = notification.subject.removeprefix(f"{notification.study_id}: ")
    return Notification(
        key=notification.key + ESCALATION_KEY_SUFFIX,
        study_id=notification.study_id,
        role=role,
        urgency=Urgency.IMMEDIATE if notification.urgency is Urgency.IMMEDIATE else Urgency.SOON,
        subject=f"{notification.study_id}: NOT DELIVERED to the {notification.role.value.replace('_', ' ')}: "
        f"{original_subject}",
        body=(
            f"This message to the {notification.role.value.replace('_', ' ')} could not be delivered "
            f"({failure_summary}). Make sure it is acted on, and have the staff directory or the channel fixed. "
            f"The message: {notification.body}"
        ),
    )


def signing_locked_alert(study_id: str, user_id: str, failed_attempts: int, locked_until: datetime) -> Notification:
    """To supervisors at once: someone's signing locked after wrong PINs (a forgotten PIN, or someone else trying)."""
    until = locked_until.astimezone(UTC)
    return Notification(
        key=f"{study_id}/signing-locked/{user_id}/{until:%Y%m%dT%H%M%SZ}",
        study_id=study_id,
        role=Role.SUPERVISOR,
        urgency=Urgency.IMMEDIATE,
        subject=f"{study_id}: electronic signing locked for {user_id}",
        body=(
            f"{failed_attempts} wrong signing PINs in a row for {user_id} while signing an entry for {study_id}: "
            f"their signing is locked until {until:%Y-%m-%d %H:%M} UTC. Check with {user_id} that it was them; if "
            "not, have their credentials revoked. Each attempt is in the refused attempts of the audit trail."
        ),
    )
