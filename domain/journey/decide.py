"""decide(state, command, now, protocol) -> events, or CommandRejected naming every reason.

The one place the protocol's rules about a patient's path are enforced; pure, so the workflow can run it in its
update validator, its handler and during replay."""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from domain.journey import commands as cmd
from domain.journey.context import CommandRejected, Context
from domain.journey.events import Event, EventPayload
from domain.journey.handlers import (
    amendments,
    corrections,
    custody,
    enrollment,
    exits,
    follow_up,
    safety,
    treatment,
)
from domain.journey.handlers import daily_monitoring as monitoring
from domain.journey.permissions import role_problem
from domain.journey.phases import Phase
from domain.journey.signing import check_signature
from domain.journey.state import JourneyState
from domain.protocol import TrialProtocol


def decide(
    state: JourneyState,
    command: cmd.Command,
    now: datetime,
    protocol: TrialProtocol,
    *,
    signatures_required: bool = True,
    chain_of_custody: bool = False,
    clinical_review: bool = True,
    induction_criteria: bool = True,
    daily_monitoring: bool = True,
) -> list[Event]:
    """The events `command` produces, or CommandRejected with every reason it cannot be accepted.

    Each event of a signed entry carries its signature. `signatures_required=False` only replays entries made
    before electronic signatures were required (a signature given is still checked). `chain_of_custody=True`
    enrolls a journey whose release and infusion require the cells' hand-offs (journeys enrolled before did not).
    `clinical_review=False` only replays entries made before the clinical review's rules (issue 16; `Context`).
    `induction_criteria=False` only replays screenings decided before the diagnosis and end-of-induction remission
    were criteria. `daily_monitoring=False` only replays infusions recorded before daily monitoring was tracked."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("decide needs an aware `now` (the workflow's clock)")
    ctx = Context(
        state=state,
        now=now,
        protocol=protocol,
        chain_of_custody=chain_of_custody,
        induction_criteria=induction_criteria,
        daily_monitoring=daily_monitoring,
        clinical_review=clinical_review,
    )
    payloads: list[EventPayload] = []
    problem = role_problem(command.kind, command.actor.role, command)
    if problem:
        ctx.refuse(problem)
    # A screen failure's new screening follows the protocol in effect for it (an amendment may have come since).
    screening = isinstance(command, cmd.EnrollPatient)
    rescreening = screening and enrollment.screen_failed(state)
    if state.phase is not Phase.NOT_ENROLLED and not rescreening and protocol.version != state.protocol_version:
        ctx.refuse(f"{state.study_id} follows protocol version {state.protocol_version}, not {protocol.version}")
    if state.phase is Phase.NOT_ENROLLED and not isinstance(command, cmd.EnrollPatient):
        ctx.refuse(f"{state.study_id} is not enrolled yet")
    else:
        if signatures_required or command.signature is not None:
            check_signature(ctx, command)
        payloads = _handle(ctx, command)
    if ctx.problems:
        raise CommandRejected(ctx.problems, not_permitted=problem is not None)
    version = protocol.version if screening else state.protocol_version or protocol.version
    reason = _reason_of(command)
    return [
        Event(
            study_id=state.study_id,
            sequence=state.last_sequence + offset,
            occurred_at=now,
            actor=command.actor,
            protocol_version=version,
            reason=reason,
            signature=command.signature,
            payload=payload,
        )
        for offset, payload in enumerate(payloads, start=1)
    ]


def _handle(ctx: Context, command: cmd.Command) -> list[EventPayload]:
    """The events one command gives, by its handler; mypy checks that every kind of command has its case."""
    if isinstance(command, corrections.CORRECTABLE_COMMANDS) and command.correction is not None:
        return corrections.correct(ctx, command)
    match command:
        case cmd.EnrollPatient():
            return enrollment.enroll_patient(ctx, command)
        case cmd.CorrectScreening():
            return corrections.correct(ctx, command)
        case cmd.ConfirmEligibility():
            return enrollment.confirm_eligibility(ctx, command)
        case cmd.RecordConsent():
            return enrollment.record_consent(ctx, command)
        case cmd.RecordApheresis():
            return enrollment.record_apheresis(ctx, command)
        case cmd.RecordProductRelease():
            return enrollment.record_product_release(ctx, command)
        case cmd.RecordManufacturingFailure():
            return enrollment.record_manufacturing_failure(ctx, command)
        case cmd.RecordCustodyHandOff():
            return custody.record_custody_hand_off(ctx, command)
        case cmd.DecideTemperatureExcursion():
            return custody.decide_temperature_excursion(ctx, command)
        case cmd.ApproveLateInfusionAfterThaw():
            return custody.approve_late_infusion_after_thaw(ctx, command)
        case cmd.PrescribeLymphodepletion():
            return treatment.prescribe_lymphodepletion(ctx, command)
        case cmd.RecordLymphodepletionDose():
            return treatment.record_lymphodepletion_dose(ctx, command)
        case cmd.DecideOutOfSpecProduct():
            return treatment.decide_out_of_spec_product(ctx, command)
        case cmd.ApproveInfusionOutsideWindow():
            return treatment.approve_infusion_outside_window(ctx, command)
        case cmd.RecordInfusion():
            return treatment.record_infusion(ctx, command)
        case cmd.RecordInfusionNotGiven():
            return treatment.record_infusion_not_given(ctx, command)
        case cmd.AssessCrs():
            return safety.assess_crs(ctx, command)
        case cmd.AssessIcans():
            return safety.assess_icans(ctx, command)
        case cmd.RecordAdverseEvent():
            return safety.record_adverse_event(ctx, command)
        case cmd.RecordFeverMaskingDose():
            return safety.record_fever_masking_dose(ctx, command)
        case cmd.ConfirmExpeditedReport():
            return safety.confirm_expedited_report(ctx, command)
        case cmd.RecordDiseaseAssessment():
            return follow_up.record_disease_assessment(ctx, command)
        case cmd.RecordChemotherapyResumed():
            return follow_up.record_chemotherapy_resumed(ctx, command)
        case cmd.RecordVisit():
            return follow_up.record_visit(ctx, command)
        case cmd.WithdrawConsent():
            return exits.withdraw_consent(ctx, command)
        case cmd.RecordDeath():
            return exits.record_death(ctx, command)
        case cmd.RecordLostToFollowUp():
            return exits.record_lost_to_follow_up(ctx, command)
        case cmd.TakeOffStudy():
            return exits.take_off_study(ctx, command)
        case cmd.ExpireInfusionWindow():
            return treatment.expire_infusion_window(ctx, command)
        case cmd.MarkExpeditedReportOverdue():
            return safety.mark_expedited_report_overdue(ctx, command)
        case cmd.SendVisitReminder():
            return follow_up.send_visit_reminder(ctx, command)
        case cmd.MarkVisitMissed():
            return follow_up.mark_visit_missed(ctx, command)
        case cmd.CheckDailyMonitoring():
            return monitoring.check_daily_monitoring(ctx, command)
        case cmd.StartFollowUpEra():
            return follow_up.start_follow_up_era(ctx, command)
        case cmd.CompleteJourney():
            return follow_up.complete_journey(ctx, command)
        case cmd.RecordSlotBooking():
            return enrollment.record_slot_booking(ctx, command)
        case cmd.RecordSlotUnavailable():
            return enrollment.record_slot_unavailable(ctx, command)
        case cmd.CompleteDltWindow():
            return safety.complete_dlt_window(ctx, command)
        case cmd.FlagLateInfusionAfterThaw():
            return custody.flag_late_infusion_after_thaw(ctx, command)
        case cmd.StopForTrial():
            return exits.stop_for_trial(ctx, command)
        case cmd.RecordReconsent():
            return amendments.record_reconsent(ctx, command)
        case cmd.MoveToProtocolVersion():
            return amendments.move_to_protocol_version(ctx, command)
        case _:
            assert_never(command)


def _reason_of(command: cmd.Command) -> str | None:
    """Why the entry was made, when the person said: a correction's or a decision's reason."""
    correction = getattr(command, "correction", None)
    if isinstance(correction, cmd.Correction):
        return correction.reason
    reason = getattr(command, "reason", None)
    return reason if isinstance(reason, str) else None
