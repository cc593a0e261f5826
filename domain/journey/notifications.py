"""Who must know what, when something happens on a journey. Messages name the study id, never the child.

The workflow hands each notification to the notify activity; its key makes delivery idempotent.
"""

from __future__ import annotations

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
        case ev.EligibilityAssessed() if p.result.eligible:
            return [_note(event, Role.INVESTIGATOR, r, "eligible at screening", "Confirm eligibility.")]
        case ev.ScreenFailed():
            body = "Screen failure: " + "; ".join(f.reason for f in p.failed)
            return [_note(event, Role.RESEARCH_COORDINATOR, r, "screen failure", body)]
        case ev.EligibilityConfirmed():
            return [_note(event, Role.INVESTIGATOR, r, "eligibility confirmed", "Obtain the guardian's consent.")]
        case ev.ConsentSigned():
            return [_note(event, Role.APHERESIS_UNIT, r, "consent signed", "Schedule apheresis.")]
        case ev.ApheresisCollected():
            body = f"Collection {p.collection_number} sent for manufacturing, chain of identity {p.chain_of_identity}."
            return [_note(event, Role.CELL_LAB, r, "cells collected", body)]
        case ev.ProductReleased():
            cells = f"{p.total_viable_car_cells:.2e} CAR+ cells"
            body = f"Product lot {p.lot_number} released ({cells}): plan lymphodepletion."
            return [_note(event, role, s, "product released", body) for role in (Role.PHARMACY, Role.PHYSICIAN)]
        case ev.ManufacturingFailed():
            body = f"Manufacturing failed: {p.reason}. " + (
                "One re-collection is allowed: schedule apheresis." if p.recollection_allowed else "Off study."
            )
            roles = (Role.INVESTIGATOR, Role.APHERESIS_UNIT) if p.recollection_allowed else (Role.INVESTIGATOR,)
            return [_note(event, role, s, "manufacturing failed", body) for role in roles]
        case ev.LymphodepletionPrescribed():
            doses = ", ".join(f"{drug} {mg:g} mg/day x {p.days[drug]}" for drug, mg in p.daily_dose_mg.items())
            notes = [_note(event, Role.PHARMACY, s, "lymphodepletion prescribed", f"Prepare {doses}.")]
            if p.product.classification == "below_minimum":
                notes.append(_note(event, Role.INVESTIGATOR, s, "product below minimum dose", p.product.explanation))
            return notes
        case ev.LymphodepletionCompleted():
            body = (
                f"Lymphodepletion complete. Infuse between {p.infusion_window_opens.isoformat()} and "
                f"{p.infusion_window_closes.isoformat()}."
            )
            return [_note(event, Role.PHYSICIAN, s, "infusion window open", body)]
        case ev.InfusionWindowExpired():
            body = "The infusion window has closed: approve a late infusion or record it not given."
            return [_note(event, Role.INVESTIGATOR, i, "infusion window closed", body)]
        case ev.CellsInfused():
            body = "Cells infused: assess CRS and ICANS at least daily to day 14."
            return [_note(event, role, s, "infused: day 0", body) for role in (Role.NURSE, Role.PHYSICIAN)]
        case ev.ExpeditedReportOpened():
            body = f"Report to the sponsor by {p.due_at.isoformat()} (report {p.report_id}): " + "; ".join(p.reasons)
            return [_note(event, Role.INVESTIGATOR, i, "expedited safety report due in 24 h", body)]
        case ev.ExpeditedReportOverdue():
            body = f"Expedited report {p.report_id} was due at {p.due_at.isoformat()} and is not confirmed."
            return [
                _note(event, role, i, "expedited report OVERDUE", body) for role in (Role.INVESTIGATOR, Role.SUPERVISOR)
            ]
        case ev.VisitReminderIssued():
            what = "opens" if p.reminder == "window_opens" else "is closing"
            body = (
                f"The window for {p.visit_code} {what}: {p.window_opens.isoformat()} to {p.window_closes.isoformat()}."
            )
            role = ITEM_ROLES.get(p.visit_code, Role.RESEARCH_COORDINATOR)
            return [_note(event, role, r, f"{p.visit_code} reminder", body)]
        case ev.VisitMissed():
            body = f"{p.visit_code} was not done by {p.window_closed_on.isoformat()} and is recorded as missed."
            return [
                _note(event, role, s, f"{p.visit_code} missed", body)
                for role in (Role.RESEARCH_COORDINATOR, Role.INVESTIGATOR)
            ]
        case ev.RelapseDiagnosed():
            body = f"Relapse: {p.reason}. Efficacy follow-up ends; survival follow-up continues."
            return [_note(event, Role.INVESTIGATOR, i, "relapse", body)]
        case ev.PatientDied():
            return [_note(event, role, i, "death", "Death recorded.") for role in (Role.INVESTIGATOR, Role.SUPERVISOR)]
        case ev.ConsentWithdrawn() | ev.LostToFollowUp() | ev.TakenOffStudy() | ev.InfusionNotGiven():
            body = f"Off study ({p.type.replace('_', ' ')}): {p.reason}."
            return [_note(event, role, s, "off study", body) for role in (Role.INVESTIGATOR, Role.RESEARCH_COORDINATOR)]
        case ev.JourneyCompleted():
            return [_note(event, Role.RESEARCH_COORDINATOR, r, "follow-up complete", "The journey is complete.")]
    return []
