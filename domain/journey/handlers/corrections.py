"""Corrections of recorded facts: the screening values, consent, apheresis, the product release, a manufacturing
failure, the lymphodepletion prescription and doses, the infusion, an infusion not given, chemotherapy resumption
and the exits. (CRS, ICANS, adverse events, disease assessments and visits are corrected by their own handlers.)

One mechanism: a correction is the same step as the entry it corrects, carried whole with its `correction` (the
sequence it supersedes and the reason), so the corrected values are validated by that step's own model, signed
like any entry (a correction is always signed: domain/journey/signing.py), and reach every interface (the CLI's
`trial record ... --corrects N --reason ...`, the API's `correction` field) without a command per fact. Only the
screening, which is given at enrollment, has a step of its own (`correct_screening`). The original entry stays in
the record; the correcting event names it (`supersedes`) and the state takes the corrected fact.

A correction never moves the journey to another phase, and is checked again against what was recorded after the
original. Where the protocol gives no rule, a correction that would make a step already taken invalid is refused
with the reason, for the investigator to review:

- screening: eligibility is decided again. Before the investigator's confirmation an ineligible result is a screen
  failure; once eligibility was confirmed, values that fail a criterion are refused; a screen failure whose
  corrected values meet every criterion is refused too (screen the patient again: a new attempt).
- consent: not after the collection; the assent rule at the child's age on the corrected date.
- apheresis: not before consent, nor after what followed it (the next collection, the product's release).
- product release: the bag label checked again; not before manufacturing started (when hand-offs are recorded),
  nor after lymphodepletion started or the infusion; never fewer cells than were infused; after the prescription,
  the product is assessed again against the prescribed weight, refused if that changes its classification once the
  investigator decided on it or the cells were infused.
- a hand-off of the cells: the same step; the label, role, logger and time checked again, between the hand-offs
  around it; refused once the cells were infused, or when it changes whether there was a temperature excursion
  the cell lab has decided on.
- prescription: refused after the infusion (the cells per kg were checked on its weight); doses already given must
  stay within the tolerance of the corrected dose or carry their deviation reason; not planned after the first dose.
- dose: the same drug and day; the dose and time checked as when recorded, between the days around it. A changed
  last dose day moves the infusion window (a new completion event); refused when the recorded infusion would fall
  outside the moved window without the investigator's approval, or once the window was recorded as closed.
- infusion: every bedside check again (label, hold criteria, window, cell dose). Day 0 moves the visit calendar:
  refused once a calendar item was recorded done or missed, or a toxicity or disease assessment precedes the new time.
- chemotherapy resumption, exits: the dates checked as when recorded (not before infusion, screening, ...); the
  journey stays ended; a corrected "treatment related" changes the dose-limiting toxicity count.
"""

from __future__ import annotations

from domain.eligibility import (
    age_in_completed_years,
    assess_eligibility,
    missing_induction_values,
    missing_recent_therapy,
)
from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.context import Context
from domain.journey.custody import STEP_WORDS
from domain.journey.handlers.custody import check_before_release, hand_off
from domain.journey.handlers.enrollment import assent_problem, consent_signed, product_released
from domain.journey.handlers.follow_up import chemotherapy_resumed
from domain.journey.handlers.treatment import completion, excess_deviation, given_dose, infusion, prescription
from domain.journey.phases import ExitReason, Phase
from domain.journey.state import CorrectableEntry
from domain.protocol import PROTOCOL_V1, protocol_for_version

# What each step's entry is, in words for a refusal.
_ENTRY_WORDS = {
    "correct_screening": "the screening",
    "record_consent": "the consent",
    "record_apheresis": "an apheresis collection",
    "record_product_release": "the product release",
    "record_manufacturing_failure": "a manufacturing failure",
    "record_custody_hand_off": "a hand-off of the cells",
    "prescribe_lymphodepletion": "the lymphodepletion prescription",
    "record_lymphodepletion_dose": "a lymphodepletion dose",
    "record_infusion": "the infusion",
    "record_infusion_not_given": "the infusion not given",
    "record_chemotherapy_resumed": "the chemotherapy resumption",
    "withdraw_consent": "the consent withdrawal",
    "record_death": "the death",
    "record_lost_to_follow_up": "the loss to follow-up",
    "take_off_study": "the patient taken off study",
}

CORRECTABLE_COMMANDS = (
    cmd.CorrectScreening,
    cmd.RecordConsent,
    cmd.RecordApheresis,
    cmd.RecordProductRelease,
    cmd.RecordManufacturingFailure,
    cmd.RecordCustodyHandOff,
    cmd.PrescribeLymphodepletion,
    cmd.RecordLymphodepletionDose,
    cmd.RecordInfusion,
    cmd.RecordInfusionNotGiven,
    cmd.RecordChemotherapyResumed,
    cmd.WithdrawConsent,
    cmd.RecordDeath,
    cmd.RecordLostToFollowUp,
    cmd.TakeOffStudy,
)

Correctable = (
    cmd.CorrectScreening
    | cmd.RecordConsent
    | cmd.RecordApheresis
    | cmd.RecordProductRelease
    | cmd.RecordManufacturingFailure
    | cmd.RecordCustodyHandOff
    | cmd.PrescribeLymphodepletion
    | cmd.RecordLymphodepletionDose
    | cmd.RecordInfusion
    | cmd.RecordInfusionNotGiven
    | cmd.RecordChemotherapyResumed
    | cmd.WithdrawConsent
    | cmd.RecordDeath
    | cmd.RecordLostToFollowUp
    | cmd.TakeOffStudy
)


def correct(ctx: Context, c: Correctable) -> list[ev.EventPayload]:
    """The corrected entry's events, or nothing with every reason refused into `ctx`."""
    assert c.correction is not None
    target = _target(ctx, c.kind, c.correction.supersedes_sequence)
    if target is None:
        return []
    seq = target.sequence
    match c:
        case cmd.CorrectScreening():
            return _screening(ctx, c, seq)
        case cmd.RecordConsent():
            return _consent(ctx, c, seq)
        case cmd.RecordApheresis():
            return _apheresis(ctx, c, seq)
        case cmd.RecordProductRelease():
            return _product_release(ctx, c, seq)
        case cmd.RecordManufacturingFailure():
            return _manufacturing_failure(ctx, c, seq)
        case cmd.RecordCustodyHandOff():
            return _custody_hand_off(ctx, c, seq)
        case cmd.PrescribeLymphodepletion():
            return _prescription(ctx, c, seq)
        case cmd.RecordLymphodepletionDose():
            return _dose(ctx, c, seq)
        case cmd.RecordInfusion():
            return _infusion(ctx, c, seq)
        case cmd.RecordInfusionNotGiven():
            return _exit_reason_only(ctx, ExitReason.INFUSION_NOT_GIVEN, seq, c.reason)
        case cmd.RecordChemotherapyResumed():
            return _chemotherapy(ctx, c, seq)
        case cmd.WithdrawConsent():
            return _withdrawal(ctx, c, seq)
        case cmd.RecordDeath():
            return _death(ctx, c, seq)
        case cmd.RecordLostToFollowUp():
            return _lost(ctx, c, seq)
        case cmd.TakeOffStudy():
            return _exit_reason_only(ctx, ExitReason.INVESTIGATOR_DECISION, seq, c.reason)


def _target(ctx: Context, kind: str, sequence: int) -> CorrectableEntry | None:
    """The current entry `sequence` of the kind `kind` corrects; refused (None) otherwise."""
    entry = ctx.state.entry(sequence)
    what = _ENTRY_WORDS[kind]
    if entry is None or entry.kind != kind:
        ctx.refuse(f"entry {sequence} is not {what} of this patient: nothing to correct")
        return None
    if entry.superseded_by is not None:
        ctx.refuse(f"entry {sequence} was already corrected by entry {entry.superseded_by}: correct the latest one")
        return None
    return entry


# ---------------------------------------------------------------- screening, consent, collection, product


def _screening(ctx: Context, c: cmd.CorrectScreening, seq: int) -> list[ev.EventPayload]:
    state = ctx.state
    screening = c.screening
    ctx.check_day(screening.screening_date, "the screening date")
    if ctx.induction_criteria:
        for missing in missing_induction_values(screening):
            ctx.refuse(missing)
    # Judged under the version it was screened under, not one the patient moved onto since (amendment 1.1's
    # exclusion is for patients screened under it). A state carried from a run before this was kept has none: every
    # screening then was under the base version.
    rules = protocol_for_version(state.screened_under or PROTOCOL_V1.version).eligibility
    for missing in missing_recent_therapy(screening, rules):
        ctx.refuse(missing)
    result = assess_eligibility(screening, rules, induction_criteria=ctx.induction_criteria)
    failed = "; ".join(f.reason for f in result.failed)
    screen_failed = state.exit is not None and state.exit.reason is ExitReason.SCREEN_FAILURE
    if state.eligibility_confirmed and not result.eligible:
        ctx.refuse(
            f"eligibility was confirmed on the screening values and the steps after it were taken on it; the "
            f"corrected values fail: {failed}; the investigator must review the patient (take them off study if they "
            "must not continue): the screening is not corrected"
        )
    if screen_failed and result.eligible:
        ctx.refuse(
            "the corrected values meet every criterion, but the screen failure ended that screening: screen the "
            "patient again under the same study id (a new screening attempt)"
        )
    consent = state.consent
    if consent is not None:
        if consent.signed_on < screening.screening_date:
            ctx.refuse(
                f"the screening date {screening.screening_date.isoformat()} is after the consent "
                f"({consent.signed_on.isoformat()})"
            )
        age = age_in_completed_years(screening.date_of_birth, consent.signed_on)
        if (problem := assent_problem(ctx, age, consent.child_assent_obtained)) is not None:
            ctx.refuse(problem)
    payloads: list[ev.EventPayload] = [
        ev.PatientEnrolled(
            study_id=state.study_id, screening=screening, attempt=state.screening_attempt, supersedes=seq
        ),
        ev.EligibilityAssessed(result=result),
    ]
    if not result.eligible and (state.phase is Phase.SCREENING or screen_failed):
        payloads.append(ev.ScreenFailed(failed=result.failed))
    return payloads


def _consent(ctx: Context, c: cmd.RecordConsent, seq: int) -> list[ev.EventPayload]:
    state = ctx.state
    signed_on = c.guardian_consent_signed_on
    ctx.check_day(signed_on, "the consent date", (state.screening_date, "screening"))
    if state.collections and signed_on > state.collections[0].collected_on:
        ctx.refuse(
            f"the consent date {signed_on.isoformat()} is after the apheresis collection "
            f"({state.collections[0].collected_on.isoformat()}): consent comes first"
        )
    return [consent_signed(ctx, c, supersedes=seq)]


def _apheresis(ctx: Context, c: cmd.RecordApheresis, seq: int) -> list[ev.EventPayload]:
    state = ctx.state
    index = next((i for i, k in enumerate(state.collections) if k.sequence == seq), None)
    if index is None:
        ctx.refuse(f"entry {seq} is not an apheresis collection of this patient: nothing to correct")
        return []
    collection = state.collections[index]
    consent = state.consent
    ctx.check_day(c.collected_on, "the collection date", (consent.signed_on if consent else None, "consent"))
    later = state.collections[index + 1] if index + 1 < len(state.collections) else None
    if later is not None and c.collected_on >= later.collected_on:
        ctx.refuse(
            f"the collection date {c.collected_on.isoformat()} is not before collection {later.collection_number} "
            f"({later.collected_on.isoformat()})"
        )
    if later is None and state.product is not None and c.collected_on > state.product.released_on:
        ctx.refuse(
            f"the collection date {c.collected_on.isoformat()} is after its product's release "
            f"({state.product.released_on.isoformat()})"
        )
    return [
        ev.ApheresisCollected(
            collected_on=c.collected_on,
            collection_number=collection.collection_number,
            chain_of_identity=collection.chain_of_identity,
            supersedes=seq,
        )
    ]


def _custody_hand_off(ctx: Context, c: cmd.RecordCustodyHandOff, seq: int) -> list[ev.EventPayload]:
    state = ctx.state
    records = state.current_custody
    index = next((i for i, r in enumerate(records) if r.sequence == seq), None)
    if index is None:
        ctx.refuse(f"entry {seq} is not a current hand-off of this patient's cells: nothing to correct")
        return []
    record = records[index]
    if c.step != record.step:
        ctx.refuse(f"entry {seq} records the cells {STEP_WORDS[record.step]}, not {STEP_WORDS[c.step]}")
        return []
    if state.infusion is not None:
        ctx.refuse("the cells were infused, checked against their hand-offs: the hand-offs are not corrected now")
    earlier = records[index - 1] if index > 0 else None
    before = (earlier.at, f"the cells were {STEP_WORDS[earlier.step]}") if earlier else (None, "")
    later = records[index + 1] if index + 1 < len(records) else None
    corrected = hand_off(ctx, c, before, later, supersedes=seq)
    if record.excursion != corrected.excursion and state.excursion_decision is not None:
        ctx.refuse(
            "the cell lab decided on the temperature excursion this reading showed: a correction that changes "
            "whether there was one needs the cell lab's review"
        )
    return [corrected]


def _product_release(ctx: Context, c: cmd.RecordProductRelease, seq: int) -> list[ev.EventPayload]:
    state = ctx.state
    expected, product = state.chain_of_identity, state.product
    if expected is None or product is None:
        ctx.refuse(f"entry {seq} is not the current product release of this patient: nothing to correct")
        return []
    released = product_released(ctx, c, expected, supersedes=seq)
    check_before_release(ctx, c.released_on)
    first_dose = min((ctx.site_date_of(d.given_at) for d in state.doses_given), default=None)
    if first_dose is not None and c.released_on > first_dose:
        ctx.refuse(
            f"the release date {c.released_on.isoformat()} is after lymphodepletion started ({first_dose.isoformat()})"
        )
    infused = state.infusion
    if infused is not None and c.total_viable_car_cells < infused.cells_infused:
        ctx.refuse(
            f"the product cannot hold {c.total_viable_car_cells:.2e} cells: {infused.cells_infused:.2e} were infused"
        )
    plan, assessment = state.lymphodepletion, released.product_assessment
    if plan is not None and assessment is not None:
        changed = assessment.classification is not plan.product.classification
        if changed and (state.out_of_spec_decision is not None or infused is not None):
            ctx.refuse(
                f"the product was assessed {plan.product.classification.value.replace('_', ' ')} and "
                f"{'infused' if infused else 'the investigator decided on it'}; with the corrected cell count it is "
                f"{assessment.classification.value.replace('_', ' ')}: the investigator must review it"
            )
    return [released]


def _manufacturing_failure(ctx: Context, c: cmd.RecordManufacturingFailure, seq: int) -> list[ev.EventPayload]:
    state = ctx.state
    current = state.current_entries(c.kind)
    ended = state.exit is not None and state.exit.reason is ExitReason.MANUFACTURING_FAILURE
    ending = ended and current[-1].sequence == seq  # the failure that took the patient off study
    collected = [k for k in state.collections if k.sequence is not None and k.sequence < seq]
    if collected:
        ctx.check_day(c.failed_on, "the failure date", (collected[-1].collected_on, "the collection"))
    else:
        ctx.check_day(c.failed_on, "the failure date")
    return [
        ev.ManufacturingFailed(failed_on=c.failed_on, reason=c.reason, recollection_allowed=not ending, supersedes=seq)
    ]


# ---------------------------------------------------------------- lymphodepletion and infusion


def _prescription(ctx: Context, c: cmd.PrescribeLymphodepletion, seq: int) -> list[ev.EventPayload]:
    state = ctx.state
    plan = state.lymphodepletion
    if plan is None or state.product is None:
        ctx.refuse(f"entry {seq} is not the current lymphodepletion prescription of this patient: nothing to correct")
        return []
    if state.infusion is not None:
        ctx.refuse(
            "the infusion was checked against this prescription's weight (cells per kg): a prescription is not "
            "corrected after the infusion; the investigator must review it"
        )
        return []
    corrected = prescription(ctx, c, supersedes=seq)
    for dose in state.doses_given:
        prescribed = corrected.daily_dose_mg[dose.drug]
        deviation = excess_deviation(ctx, prescribed, dose.dose_mg)
        if deviation is not None and dose.deviation_reason is None:
            ctx.refuse(
                f"{dose.drug} day {dose.day_number} was given as {dose.dose_mg:g} mg, {deviation:.0%} off the "
                f"corrected {prescribed:g} mg: correct that dose first, with the reason for its deviation"
            )
        if ctx.site_date_of(dose.given_at) < c.planned_start_on:
            ctx.refuse(
                f"the planned start {c.planned_start_on.isoformat()} is after {dose.drug} day {dose.day_number} "
                f"was given ({ctx.site_date_of(dose.given_at).isoformat()})"
            )
    if corrected.product.classification is not plan.product.classification and state.out_of_spec_decision:
        ctx.refuse(
            f"with the corrected weight the product is {corrected.product.classification.value.replace('_', ' ')}, "
            "not what the investigator decided on: the investigator must review it"
        )
    return [corrected]


def _dose(ctx: Context, c: cmd.RecordLymphodepletionDose, seq: int) -> list[ev.EventPayload]:
    state = ctx.state
    plan = state.lymphodepletion
    dose = next((d for d in state.doses_given if d.sequence == seq), None)
    if plan is None or dose is None:
        ctx.refuse(f"entry {seq} is not a current lymphodepletion dose of this patient: nothing to correct")
        return []
    label = f"{dose.drug} day {dose.day_number}"
    if (c.drug, c.day_number) != (dose.drug, dose.day_number):
        ctx.refuse(
            f"entry {seq} is {label}: a correction keeps the drug and the day; record the right dose in its own entry"
        )
        return []
    before = state.dose_given(c.drug, c.day_number - 1)
    after = state.dose_given(c.drug, c.day_number + 1)
    payloads: list[ev.EventPayload] = [given_dose(ctx, c, before, after, supersedes=seq)]
    completed = state.lymphodepletion_completed
    if completed is None or ctx.problems:
        return payloads
    others = [ctx.site_date_of(d.given_at) for d in state.doses_given if d.sequence != seq]
    last_on = max(ctx.site_date_of(c.given_at), *others)
    if last_on == completed.last_dose_on:
        return payloads
    moved = completion(ctx, last_on, supersedes=state.lymphodepletion_completed_sequence)
    if state.infusion_window_expired:
        ctx.refuse(
            f"the corrected time moves the last lymphodepletion dose to {last_on.isoformat()}, and with it the "
            f"infusion window, which was recorded as closed on {completed.infusion_window_closes.isoformat()}: the "
            "investigator must review it"
        )
    infused = state.infusion
    outside = infused is not None and not (
        moved.infusion_window_opens <= infused.day_zero <= moved.infusion_window_closes
    )
    if infused is not None and outside and not state.infusion_window_deviation_approved:
        ctx.refuse(
            f"the corrected time moves the last lymphodepletion dose to {last_on.isoformat()}: the infusion on "
            f"{infused.day_zero.isoformat()} would be outside its window ({moved.infusion_window_opens.isoformat()} "
            f"to {moved.infusion_window_closes.isoformat()}), which the investigator did not approve"
        )
    return [*payloads, moved]


def _infusion(ctx: Context, c: cmd.RecordInfusion, seq: int) -> list[ev.EventPayload]:
    state = ctx.state
    recorded = state.infusion
    if recorded is None or state.lymphodepletion_completed is None:
        ctx.refuse(f"entry {seq} is not the infusion of this patient: nothing to correct")
        return []
    corrected = infusion(ctx, c, supersedes=seq)
    if c.infused_at.utcoffset() is None:
        return [corrected]
    if corrected.day_zero != recorded.day_zero:
        resolved = sorted(code for code, item in state.scheduled.items() if item.resolved)
        if resolved:
            ctx.refuse(
                f"the corrected time moves day 0 from {recorded.day_zero.isoformat()} to "
                f"{corrected.day_zero.isoformat()}, but {', '.join(resolved)} were recorded (done or missed) on the "
                "calendar of the recorded day 0: the investigator must review it"
            )
    for name, assessments in (("CRS", state.crs), ("ICANS", state.icans)):
        for a in assessments:
            if a.superseded_by is None and a.assessed_at < c.infused_at:
                ctx.refuse(
                    f"{name} assessment entry {a.sequence} ({a.assessed_at.isoformat()}) is before the corrected "
                    f"infusion time {c.infused_at.isoformat()}"
                )
    for d in state.disease_assessments:
        if d.superseded_by is None and d.assessed_on < corrected.day_zero:
            ctx.refuse(
                f"disease assessment entry {d.sequence} ({d.assessed_on.isoformat()}) is before the corrected "
                f"day 0 ({corrected.day_zero.isoformat()})"
            )
    return [corrected]


# ---------------------------------------------------------------- after infusion, and the exits


def _chemotherapy(ctx: Context, c: cmd.RecordChemotherapyResumed, seq: int) -> list[ev.EventPayload]:
    return [chemotherapy_resumed(ctx, c, supersedes=seq)]


def _current_exit(ctx: Context, reason: ExitReason, seq: int) -> bool:
    exit_record = ctx.state.exit
    if exit_record is None or exit_record.reason is not reason:
        ctx.refuse(f"entry {seq} is not how this patient left the study: nothing to correct")
        return False
    return True


def _withdrawal(ctx: Context, c: cmd.WithdrawConsent, seq: int) -> list[ev.EventPayload]:
    if not _current_exit(ctx, ExitReason.CONSENT_WITHDRAWN, seq):
        return []
    ctx.check_day(c.withdrawn_on, "the withdrawal date", (ctx.state.screening_date, "screening"))
    return [ev.ConsentWithdrawn(withdrawn_on=c.withdrawn_on, reason=c.reason, supersedes=seq)]


def _death(ctx: Context, c: cmd.RecordDeath, seq: int) -> list[ev.EventPayload]:
    if not _current_exit(ctx, ExitReason.DEATH, seq):
        return []
    infused = ctx.state.infusion
    earliest = (infused.day_zero, "the infusion") if infused else (ctx.state.screening_date, "screening")
    ctx.check_day(c.died_on, "the date of death", earliest)
    return [ev.PatientDied(died_on=c.died_on, cause=c.cause, treatment_related=c.treatment_related, supersedes=seq)]


def _lost(ctx: Context, c: cmd.RecordLostToFollowUp, seq: int) -> list[ev.EventPayload]:
    if not _current_exit(ctx, ExitReason.LOST_TO_FOLLOW_UP, seq):
        return []
    ctx.check_day(c.last_contact_on, "the last contact date", (ctx.state.screening_date, "screening"))
    return [ev.LostToFollowUp(last_contact_on=c.last_contact_on, reason=c.reason, supersedes=seq)]


def _exit_reason_only(ctx: Context, reason: ExitReason, seq: int, words: str) -> list[ev.EventPayload]:
    """An exit recorded on the day it was entered: its reason is corrected, its day stays."""
    if not _current_exit(ctx, reason, seq):
        return []
    exit_record = ctx.state.exit
    assert exit_record is not None
    if reason is ExitReason.INFUSION_NOT_GIVEN:
        return [ev.InfusionNotGiven(on=exit_record.on, reason=words, supersedes=seq)]
    return [ev.TakenOffStudy(on=exit_record.on, reason=words, supersedes=seq)]
