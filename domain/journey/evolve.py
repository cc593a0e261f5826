"""evolve(state, event) -> state: total and side-effect free; fold replays a whole record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import reduce
from typing import TypeVar, assert_never

from domain.journey import events as ev
from domain.journey.correctable import CORRECTED_BY, SET_ASIDE_BY_REMANUFACTURE
from domain.journey.custody import AFTER_RELEASE
from domain.journey.events import Event
from domain.journey.phases import TRIAL_STOPPED_WORDS, ExitReason, Phase
from domain.journey.repeats import content_of
from domain.journey.state import (
    Collection,
    CorrectableEntry,
    CustodyRecord,
    DiseaseAssessmentRecord,
    DoseRecord,
    ExpeditedReport,
    GradedAssessment,
    Infusion,
    JourneyState,
    MissedDailyAssessment,
    Product,
    RecordedAdverseEvent,
    RecordedMaskingDose,
    ScheduledItemRecord,
    initial_state,
)
from domain.journey.status_view import ExitRecord, SignedEntry
from domain.protocol import FrozenModel
from domain.toxicity import FeverMaskingDose

_Model = TypeVar("_Model", bound=FrozenModel)
_Superseded = TypeVar(
    "_Superseded", GradedAssessment, RecordedAdverseEvent, DiseaseAssessmentRecord, RecordedMaskingDose
)
_Scheduled = Mapping[str, ScheduledItemRecord]


def fold(state: JourneyState, events: Iterable[Event]) -> JourneyState:
    return reduce(evolve, events, state)


def evolve(state: JourneyState, event: Event) -> JourneyState:
    """Apply one recorded fact. Never fails: the decider has already accepted it."""
    supersedes = getattr(event.payload, "supersedes", None)
    if supersedes is not None and event.payload.type in CORRECTED_BY:
        changes = _corrected(state, event)
    else:
        changes = _changes(state, event)
    changes["last_sequence"] = max(state.last_sequence, event.sequence)
    # A new screening attempt starts the entries afresh (its case says so); otherwise the entries so far.
    so_far = changes.get("entries", state.entries)
    assert isinstance(so_far, tuple)
    entries = _entries_after(so_far, event)
    if entries is not None:
        changes["entries"] = entries
    signature = event.signature
    # One signed command may record several events, each carrying its signature: the entry is listed once.
    if signature is not None and not any(entry.signature == signature for entry in state.signatures):
        signed = SignedEntry(sequence=event.sequence, event_type=event.payload.type, signature=signature)
        changes["signatures"] = (*state.signatures, signed)
    return _updated(state, changes)


def _updated(model: _Model, changes: Mapping[str, object]) -> _Model:
    """`model` with `changes`, validated as a new model is (`model_copy(update=...)` skips validation).

    Unchanged fields are already-validated values, so validating them again is a cheap instance check.
    """
    return model.model_validate({**model.__dict__, **changes})


def _changes(state: JourneyState, event: Event) -> dict[str, object]:
    """The fields of `state` that `event` changes; mypy checks that every kind of event has its case."""
    p = event.payload
    seq = event.sequence
    match p:
        case ev.PatientEnrolled():
            fresh = {
                "study_id": p.study_id,
                "protocol_version": event.protocol_version,
                "screened_under": event.protocol_version,
                "phase": Phase.SCREENING,
                **_screening_facts(p),
                "screening_attempt": p.attempt,
                "chain_of_custody": p.chain_of_custody,
            }
            if p.attempt == 1:
                return fresh
            # A new screening attempt after a screen failure: the attempt before is over (its entries stay in
            # the record and the timeline); the signatures list keeps every signed entry of the patient.
            kept = {"last_sequence": state.last_sequence, "signatures": state.signatures}
            return {**initial_state(state.study_id).__dict__, **kept, **fresh, "entries": ()}
        case ev.EligibilityAssessed():
            return {"eligibility": p.result}
        case ev.ScreenFailed():
            assert state.screening_date is not None  # set by PatientEnrolled, which comes first
            details = "; ".join(f.reason for f in p.failed)
            return _off_study(ExitReason.SCREEN_FAILURE, state.screening_date, details)
        case ev.EligibilityConfirmed():
            return {"phase": Phase.CONSENT, "eligibility_confirmed": True}
        case ev.ConsentSigned():
            return {"consent": p, "phase": Phase.APHERESIS}
        case ev.ApheresisCollected():
            return {"collections": (*state.collections, _collection(p, seq)), "phase": Phase.MANUFACTURING}
        case ev.ProductReleased():
            return {"product": _product(p), "phase": Phase.LYMPHODEPLETION}
        case ev.ManufacturingFailed():
            if not p.recollection_allowed:
                return _off_study(ExitReason.MANUFACTURING_FAILURE, p.failed_on, p.reason)
            return {
                "phase": Phase.APHERESIS,
                "manufacturing_retries_used": state.manufacturing_retries_used + 1,
            }
        case ev.CustodyHandOffRecorded():
            return {"custody": (*state.custody, _custody(p, seq, event.occurred_at))}
        case ev.TemperatureExcursionDecided():
            return {"excursion_decision": p.decision}
        case ev.LateInfusionAfterThawApproved():
            return {"late_infusion_after_thaw_approved": True}
        case ev.SlotBooked():
            return {"slot_booking": p, "slot_not_booked": None}
        case ev.SlotNotBooked():
            return {"slot_not_booked": p}
        case ev.LymphodepletionPrescribed():
            return {"lymphodepletion": p}
        case ev.LymphodepletionDoseGiven():
            return {"doses_given": (*state.doses_given, _dose(p, seq))}
        case ev.LymphodepletionCompleted():
            completed = {"lymphodepletion_completed": p, "lymphodepletion_completed_sequence": seq}
            if p.supersedes is not None:  # moved by a corrected dose: the journey stays where it is
                return completed
            return {**completed, "phase": Phase.INFUSION}
        case ev.OutOfSpecProductDecided():
            if p.decision == "remanufacture":
                # A new product from the same collection; lymphodepletion is planned again for it.
                return {
                    "phase": Phase.MANUFACTURING,
                    "manufacturing_retries_used": state.manufacturing_retries_used + 1,
                    "product": None,
                    "lymphodepletion": None,
                    "doses_given": (),
                    "lymphodepletion_completed": None,
                    "lymphodepletion_completed_sequence": None,
                    "out_of_spec_decision": None,
                    "infusion_window_deviation_approved": False,
                    "infusion_window_expired": False,
                    # The new product travels to the site again: the old one's hand-offs after release are over.
                    "custody": tuple(r for r in state.custody if r.step not in AFTER_RELEASE),
                    "excursion_decision": None,
                    "late_infusion_after_thaw_approved": False,
                    "entries": tuple(e for e in state.entries if e.kind not in SET_ASIDE_BY_REMANUFACTURE),
                }
            return {"out_of_spec_decision": p.decision}
        case ev.InfusionWindowDeviationApproved():
            return {"infusion_window_deviation_approved": True}
        case ev.InfusionWindowExpired():
            return {"infusion_window_expired": True}
        case ev.InfusionLateAfterThaw():
            return {"late_after_thaw_flagged_for": p.thawed_at}
        case ev.DltWindowCompleted():
            return {"dlt_window_completed": True}
        case ev.CellsInfused():
            return {
                "infusion": _infusion(p),
                "phase": Phase.TOXICITY_OBSERVATION,
                "era": Phase.TOXICITY_OBSERVATION,
            }
        case ev.InfusionNotGiven():
            return _off_study(ExitReason.INFUSION_NOT_GIVEN, p.on, p.reason)
        case ev.CrsAssessed():
            entry = GradedAssessment(
                sequence=seq, assessed_at=p.assessed_at, grade=p.grade, reasons=p.reasons, content=content_of(p)
            )
            return {"crs": (*_supersede(state.crs, p.supersedes, seq), entry)}
        case ev.IcansAssessed():
            entry = GradedAssessment(
                sequence=seq, assessed_at=p.assessed_at, grade=p.grade, reasons=p.reasons, content=content_of(p)
            )
            return {"icans": (*_supersede(state.icans, p.supersedes, seq), entry)}
        case ev.AdverseEventRecorded():
            ae = RecordedAdverseEvent(sequence=seq, adverse_event=p.adverse_event, content=content_of(p))
            return {"adverse_events": (*_supersede(state.adverse_events, p.supersedes, seq), ae)}
        case ev.FeverMaskingDoseGiven():
            dose = RecordedMaskingDose(
                sequence=seq,
                dose=FeverMaskingDose(drug=p.drug, dose_mg=p.dose_mg, given_at=p.given_at, sequence=seq),
                content=content_of(p),
            )
            return {"fever_masking_doses": (*_supersede(state.fever_masking_doses, p.supersedes, seq), dose)}
        case ev.ExpeditedReportOpened():
            report = ExpeditedReport(
                report_id=p.report_id,
                trigger_sequence=p.trigger_sequence,
                reasons=p.reasons,
                due_at=p.due_at,
                aware_at=p.aware_at,
            )
            return {"expedited_reports": (*state.expedited_reports, report)}
        case ev.ExpeditedReportSubmitted():
            return _with_report(state, p.report_id, submitted_at=p.submitted_at, sponsor_reference=p.sponsor_reference)
        case ev.ExpeditedReportOverdue():
            return _with_report(state, p.report_id, overdue=True)
        case ev.DiseaseAssessed():
            record = DiseaseAssessmentRecord(
                sequence=seq,
                assessed_on=p.marrow.assessed_on,
                category=p.response.category,
                mrd_negative=p.response.mrd_negative,
                relapse=p.relapse.relapse,
                fulfils=p.fulfils,
                content=content_of(p),
            )
            scheduled = _undo_fulfilment(state.scheduled, p.supersedes)
            for code in p.fulfils:
                scheduled = _with_item(
                    scheduled, code, done_on=p.marrow.assessed_on, done_sequence=seq, in_window=p.in_window
                )
            return {
                "disease_assessments": (*_supersede(state.disease_assessments, p.supersedes, seq), record),
                "scheduled": scheduled,
            }
        case ev.RelapseDiagnosed():
            return {"relapse": p, "phase": Phase.SURVIVAL_FOLLOW_UP}
        case ev.MolecularRecurrenceConfirmed():
            return {"molecular_recurrence": p}
        case ev.ChemotherapyResumed():
            scheduled = _with_item(
                state.scheduled, "CHEMO", done_on=p.resumed_on, done_sequence=seq, in_window=p.in_window
            )
            return {"chemotherapy": p, "scheduled": scheduled}
        case ev.VisitCompleted():
            scheduled = _undo_fulfilment(state.scheduled, p.supersedes)
            done = {"done_on": p.visit_date, "done_sequence": seq, "in_window": p.in_window}
            return {"scheduled": _with_item(scheduled, p.visit_code, **done)}
        case ev.VisitReminderIssued():
            reminders = (*state.item(p.visit_code).reminders, p.reminder)
            return {"scheduled": _with_item(state.scheduled, p.visit_code, reminders=reminders)}
        case ev.VisitMissed():
            return {"scheduled": _with_item(state.scheduled, p.visit_code, missed=True)}
        case ev.DailyMonitoringStarted():
            return {"daily_monitoring_until_day": p.until_day}
        case ev.DailyAssessmentsDue():
            return {"daily_checked_day": max(state.daily_checked_day, p.day_number)}
        case ev.DailyAssessmentMissed():
            missed = MissedDailyAssessment(assessment=p.assessment, day_number=p.day_number, on=p.on)
            # Recorded at the start of the next day: that day's check is done with it.
            return {
                "daily_missed": (*state.daily_missed, missed),
                "daily_checked_day": max(state.daily_checked_day, p.day_number + 1),
            }
        case ev.FollowUpEraStarted():
            phase = state.phase if state.phase is Phase.SURVIVAL_FOLLOW_UP else p.era
            return {"era": p.era, "phase": phase}
        case ev.ConsentWithdrawn():
            return _off_study(ExitReason.CONSENT_WITHDRAWN, p.withdrawn_on, p.reason)
        case ev.PatientDied():
            return {
                **_off_study(ExitReason.DEATH, p.died_on, p.cause),
                "treatment_related_death": p.treatment_related,
            }
        case ev.LostToFollowUp():
            return _off_study(ExitReason.LOST_TO_FOLLOW_UP, p.last_contact_on, p.reason)
        case ev.TakenOffStudy():
            return _off_study(ExitReason.INVESTIGATOR_DECISION, p.on, p.reason)
        case ev.TrialStopped():
            stopped: dict[str, object] = {"trial_stopped": p}
            if p.off_study:
                words = f"{TRIAL_STOPPED_WORDS} (decision {p.decision_id})"
                stopped |= _off_study(ExitReason.TRIAL_STOPPED, p.on, words)
            return stopped
        case ev.ReconsentRecorded():
            if p.accepted:
                return {"pending_protocol_version": p.protocol_version}
            declined = (*state.declined_protocol_versions, p.protocol_version)
            return {"pending_protocol_version": None, "declined_protocol_versions": declined}
        case ev.ProtocolVersionChanged():
            return {"protocol_version": p.to_version, "pending_protocol_version": None}
        case ev.JourneyCompleted():
            return {"phase": Phase.COMPLETED, "completed_on": p.completed_on}
        case _:
            assert_never(p)


def _corrected(state: JourneyState, event: Event) -> dict[str, object]:
    """What a corrected entry changes: the fact it stands for, never the phase the original moved the journey to.
    Entries whose ordinary case already only replaces the fact (the prescription, exits) take that case."""
    p = event.payload
    seq = event.sequence
    match p:
        case ev.PatientEnrolled():
            return _screening_facts(p)
        case ev.ConsentSigned():
            return {"consent": p}
        case ev.ApheresisCollected():
            collection = _collection(p, seq)
            collections = tuple(
                collection if c.collection_number == p.collection_number else c for c in state.collections
            )
            return {"collections": collections}
        case ev.ProductReleased():
            changes: dict[str, object] = {"product": _product(p)}
            if p.product_assessment is not None and state.lymphodepletion is not None:
                changes["lymphodepletion"] = _updated(state.lymphodepletion, {"product": p.product_assessment})
            return changes
        case ev.ManufacturingFailed():
            # The recollection it allowed (or not) stands; the date and reason of an ending one are corrected.
            return {} if p.recollection_allowed else _off_study(ExitReason.MANUFACTURING_FAILURE, p.failed_on, p.reason)
        case ev.LymphodepletionDoseGiven():
            dose = _dose(p, seq)
            doses = tuple(dose if (d.drug, d.day_number) == (p.drug, p.day_number) else d for d in state.doses_given)
            return {"doses_given": doses}
        case ev.CellsInfused():
            return {"infusion": _infusion(p)}
        case ev.CustodyHandOffRecorded():
            record = _custody(p, seq, event.occurred_at)
            return {"custody": tuple(record if r.sequence == p.supersedes else r for r in state.custody)}
        case _:
            return _changes(state, event)


# The state record each fact builds: one home for a new entry and for its correction.


def _screening_facts(p: ev.PatientEnrolled) -> dict[str, object]:
    return {"screening_date": p.screening.screening_date, "date_of_birth": p.screening.date_of_birth}


def _collection(p: ev.ApheresisCollected, seq: int) -> Collection:
    return Collection(
        collection_number=p.collection_number,
        collected_on=p.collected_on,
        chain_of_identity=p.chain_of_identity,
        sequence=seq,
    )


def _product(p: ev.ProductReleased) -> Product:
    return Product(
        chain_of_identity=p.chain_of_identity,
        lot_number=p.lot_number,
        total_viable_car_cells=p.total_viable_car_cells,
        released_on=p.released_on,
    )


def _custody(p: ev.CustodyHandOffRecorded, seq: int, recorded_at: datetime) -> CustodyRecord:
    return CustodyRecord(
        recorded_at=recorded_at,
        step=p.step,
        at=p.at,
        chain_of_identity=p.chain_of_identity,
        logger_max_temperature_c=p.logger_max_temperature_c,
        excursion=p.excursion,
        sequence=seq,
    )


def _dose(p: ev.LymphodepletionDoseGiven, seq: int) -> DoseRecord:
    return DoseRecord(
        drug=p.drug,
        day_number=p.day_number,
        dose_mg=p.dose_mg,
        prescribed_mg=p.prescribed_mg,
        given_at=p.given_at,
        deviation_reason=p.deviation_reason,
        sequence=seq,
    )


def _infusion(p: ev.CellsInfused) -> Infusion:
    return Infusion(
        infused_at=p.infused_at,
        day_zero=p.day_zero,
        chain_of_identity=p.chain_of_identity,
        cells_infused=p.cells_infused,
        cells_per_kg=p.cells_per_kg,
        deviations=p.deviations,
    )


def _entries_after(entries: tuple[CorrectableEntry, ...], event: Event) -> tuple[CorrectableEntry, ...] | None:
    """The correctable entries once `event` is applied; None when it is not one and corrects none."""
    kind = CORRECTED_BY.get(event.payload.type)
    if kind is None:
        return None
    supersedes = getattr(event.payload, "supersedes", None)
    if supersedes is not None:
        entries = tuple(
            _updated(e, {"superseded_by": event.sequence}) if e.sequence == supersedes else e for e in entries
        )
    return (*entries, CorrectableEntry(sequence=event.sequence, kind=kind, event_type=event.payload.type))


def _off_study(reason: ExitReason, on: date, details: str) -> dict[str, object]:
    return {"phase": Phase.OFF_STUDY, "exit": ExitRecord(reason=reason, on=on, details=details)}


def _supersede(entries: tuple[_Superseded, ...], superseded: int | None, by: int) -> tuple[_Superseded, ...]:
    if superseded is None:
        return entries
    return tuple(_updated(e, {"superseded_by": by}) if e.sequence == superseded else e for e in entries)


def _with_item(scheduled: _Scheduled, code: str, **changes: object) -> dict[str, ScheduledItemRecord]:
    items = dict(scheduled)
    items[code] = _updated(scheduled.get(code) or ScheduledItemRecord(code=code), changes)
    return items


def _with_report(state: JourneyState, report_id: str, **changes: object) -> dict[str, object]:
    reports = tuple(_updated(r, changes) if r.report_id == report_id else r for r in state.expedited_reports)
    return {"expedited_reports": reports}


def _undo_fulfilment(scheduled: _Scheduled, superseded_sequence: int | None) -> _Scheduled:
    """A corrected entry no longer completes what it completed; its replacement says what it completes now."""
    if superseded_sequence is None:
        return scheduled
    undone = {"done_on": None, "done_sequence": None, "in_window": None}
    return {
        code: _updated(item, undone) if item.done_sequence == superseded_sequence else item
        for code, item in scheduled.items()
    }
