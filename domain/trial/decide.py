"""The trial's decider: reports applied idempotently, the stopping rule evaluated, admission, the DSMB decision.

Every function takes the state and returns a new one: the workflow holds the state, the clock and the I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from domain.journey.context import CLOCK_SKEW_TOLERANCE
from domain.journey.phases import TRIAL_STOPPED_WORDS
from domain.protocol import TrialProtocol
from domain.roles import Role
from domain.signature import signed_content_sha256
from domain.statistics import StoppingRuleStatus, evaluate_stopping_rule, posterior_probability_rate_exceeds
from domain.trial.census import Census, LastCounted
from domain.trial.reports import DsmbDecision, DsmbOutcome, JourneyReport, ReportKind
from domain.trial.state import DsmbRecord, Enrollment, PatientTally, TrialState


@dataclass(frozen=True)
class Outcome:
    state: TrialState
    paused_now: bool = False  # the rule fired on this very input: tell the investigator, supervisors and DSMB
    next_window_end: datetime | None = None  # when the next pending patient becomes evaluable: evaluate again then


# ---------------------------------------------------------------- the rule


# The counts of the patients last counted: the next report changes one patient, and only that change is counted.
_LAST_COUNTED = LastCounted()


def census(state: TrialState, now: datetime, protocol: TrialProtocol) -> Census:
    """The patients counted at `now`: what the rule, admission and the trial's clock read of them."""
    return _LAST_COUNTED.counts(state.patients, protocol.stopping_rule).at(now)


def _with_changed_patients(
    state: TrialState, changes: Sequence[tuple[PatientTally | None, PatientTally]], protocol: TrialProtocol
) -> dict[str, PatientTally]:
    """`state`'s patients with each change's after in its before's place (None: a new patient), counted by the
    changes alone."""
    rule = protocol.stopping_rule
    patients = dict(state.patients)
    counts = _LAST_COUNTED.counts(state.patients, rule)
    for before, after in changes:
        patients[after.study_id] = after
        counts = counts.changed(before, after, rule)
    _LAST_COUNTED.keep(patients, rule, counts)
    return patients


def evaluable_patients(state: TrialState, now: datetime, protocol: TrialProtocol) -> list[PatientTally]:
    rule = protocol.stopping_rule
    return [p for p in state.patients.values() if p.evaluable(now, rule)]


def pending_patients(state: TrialState, now: datetime, protocol: TrialProtocol) -> list[PatientTally]:
    rule = protocol.stopping_rule
    return [p for p in state.patients.values() if p.pending(now, rule)]


def dlt_count(state: TrialState) -> int:
    return sum(1 for p in state.patients.values() if p.dlt_at is not None)


def rule_status(state: TrialState, now: datetime, protocol: TrialProtocol) -> StoppingRuleStatus:
    """The stopping rule over evaluable patients only (a patient infused yesterday is not yet counted)."""
    return _rule_over(census(state, now, protocol), protocol)


def _rule_over(counts: Census, protocol: TrialProtocol) -> StoppingRuleStatus:
    return evaluate_stopping_rule(counts.dlts, counts.evaluable, protocol.stopping_rule)


def more_dlts_to_pause(state: TrialState, now: datetime, protocol: TrialProtocol) -> int | None:
    """How many further DLTs (each an evaluable patient more) would pause enrollment: 0 when it would pause now;
    None when no count within the accrual target would."""
    rule = protocol.stopping_rule
    counts = census(state, now, protocol)
    toxicities, patients = counts.dlts, counts.evaluable
    room = max(protocol.accrual.accrual_target_infused - patients, 0)
    for more in range(room + 1):
        posterior = posterior_probability_rate_exceeds(toxicities + more, patients + more, rule)
        if posterior > rule.posterior_probability_threshold:
            return more
    return None


def infused_count(state: TrialState) -> int:
    return sum(1 for p in state.patients.values() if p.infused_at is not None)


def evaluate(state: TrialState, now: datetime, protocol: TrialProtocol) -> Outcome:
    """Pause when the rule fires on a DLT the DSMB has not yet weighed; close when the accrual target is infused."""
    counts = census(state, now, protocol)
    wake = counts.next_window_end
    if state.enrollment is Enrollment.OPEN:
        if _rule_over(counts, protocol).paused and counts.dlts > state.dlts_reviewed:
            paused = state.model_copy(update={"enrollment": Enrollment.PAUSED, "paused_at": now})
            return Outcome(paused, paused_now=True, next_window_end=wake)
        if counts.infused >= protocol.accrual.accrual_target_infused:
            closed = {"enrollment": Enrollment.CLOSED, "closed_because": "the accrual target was reached"}
            return Outcome(state.model_copy(update=closed), next_window_end=wake)
    return Outcome(state, next_window_end=wake)


# ---------------------------------------------------------------- reports


# A DLT and its withdrawal toggle the tally, so each is counted once by its id; the other reports set a value once
# (infused, window completed, off study) and count once by themselves. Keeping only these ids keeps the state the
# trial carries into each new run small: three ids a patient made it 1.9 MB at 10,000 patients, near Temporal's 2 MB.
TOGGLING = frozenset({ReportKind.DOSE_LIMITING_TOXICITY, ReportKind.DLT_WITHDRAWN})


def apply_report(state: TrialState, report: JourneyReport, now: datetime, protocol: TrialProtocol) -> Outcome:
    """A journey's report, counted once by its event id; a report for a patient never admitted admits them (a
    journey enrolled before the trial workflow existed still counts)."""
    if report.event_id in state.seen_event_ids:
        return evaluate(state, now, protocol)  # changes nothing: the state was evaluated when it came first
    before = state.patients.get(report.study_id)
    patient = before or PatientTally(study_id=report.study_id)
    changed: dict[str, object]
    match report.kind:
        case ReportKind.INFUSED:
            changed = {"infused_at": patient.infused_at or report.at}
        case ReportKind.DOSE_LIMITING_TOXICITY:
            withdrawn_later = patient.dlt_withdrawn_at is not None and report.at <= patient.dlt_withdrawn_at
            changed = {} if withdrawn_later else {"dlt_at": patient.dlt_at or report.at}
        case ReportKind.DLT_WITHDRAWN:  # clears the DLT it follows, never a later one (reports may arrive late)
            cleared = patient.dlt_at is None or patient.dlt_at <= report.at
            withdrawn_at = max(report.at, patient.dlt_withdrawn_at or report.at)
            changed = {"dlt_withdrawn_at": withdrawn_at} | ({"dlt_at": None} if cleared else {})
        case ReportKind.WINDOW_COMPLETED:
            changed = {"window_completed": True}
        case ReportKind.EXITED:
            changed = {"exited_at": patient.exited_at or report.at}
    patients = _with_changed_patients(state, [(before, patient.model_copy(update=changed))], protocol)
    seen = state.seen_event_ids | {report.event_id} if report.kind in TOGGLING else state.seen_event_ids
    updated = state.model_copy(update={"patients": patients, "seen_event_ids": seen})
    if report.kind is ReportKind.DLT_WITHDRAWN:
        # A withdrawn DLT the DSMB had weighed is no longer among those it weighed: the next real one counts as new.
        reviewed = min(state.dlts_reviewed, census(updated, now, protocol).dlts)
        updated = updated.model_copy(update={"dlts_reviewed": reviewed})
    # A pause in force stays when the rule no longer fires: only the DSMB's decision moves the trial on.
    return evaluate(updated, now, protocol)


# ---------------------------------------------------------------- admission


def _refusals(state: TrialState, protocol: TrialProtocol, counts: Census) -> list[str]:
    """Every reason a patient not yet admitted may not be enrolled now (the patients counted as `counts`); empty
    when they may."""
    reasons: list[str] = []
    if state.enrollment is Enrollment.PAUSED:
        reasons.append(
            f"enrollment is paused by the safety stopping rule ({_rule_over(counts, protocol).explanation}); "
            "only a signed DSMB decision resumes it"
        )
    if state.enrollment is Enrollment.CLOSED:
        reasons.append(f"enrollment is closed: {state.closed_because}")
    taken = counts.infused + counts.in_treatment
    target = protocol.accrual.accrual_target_infused
    if state.enrollment is not Enrollment.CLOSED and taken >= target:
        reasons.append(f"the trial is full: {taken} patients infused or in treatment for a target of {target} infused")
    return reasons


def admit(state: TrialState, study_id: str, now: datetime, protocol: TrialProtocol) -> tuple[TrialState, list[str]]:
    """Admit `study_id` (idempotent), or the state unchanged and every reason it is refused."""
    state, [reasons] = admit_all(state, (study_id,), now, protocol)
    return state, reasons


def admit_all(
    state: TrialState, study_ids: Sequence[str], now: datetime, protocol: TrialProtocol
) -> tuple[TrialState, list[list[str]]]:
    """Each of `study_ids` admitted as `admit` decides it, one after another (a place taken by one is gone for the
    next), counting the patients once for the whole batch; the reasons of each, in order."""
    counts = census(state, now, protocol)
    admitted: dict[str, PatientTally] = {}
    answers: list[list[str]] = []
    for study_id in study_ids:
        known = study_id in state.patients or study_id in admitted
        reasons = [] if known else _refusals(state, protocol, counts)
        if not known and not reasons:
            admitted[study_id] = PatientTally(study_id=study_id)
            counts = replace(counts, in_treatment=counts.in_treatment + 1)
        answers.append(reasons)
    if not admitted:
        return state, answers
    patients = _with_changed_patients(state, [(None, p) for p in admitted.values()], protocol)
    return state.model_copy(update={"patients": patients}), answers


def lymphodepletion_refusal(state: TrialState) -> str | None:
    """Why no new lymphodepletion may start now, or None: infused patients go on, the others wait."""
    if state.enrollment is Enrollment.PAUSED:
        return "the safety stopping rule has paused the trial: no new lymphodepletion until the DSMB decides"
    if state.enrollment is Enrollment.CLOSED and state.closed_because == STOPPED_BY_DSMB:
        return "the DSMB stopped the trial: no new lymphodepletion"
    return None


# ---------------------------------------------------------------- the DSMB


STOPPED_BY_DSMB = TRIAL_STOPPED_WORDS


def decision_refusals(state: TrialState, decision: DsmbDecision, now: datetime) -> list[str]:
    """Every reason the decision cannot be recorded; empty when it can."""
    reasons: list[str] = []
    if decision.actor.role is not Role.DSMB:
        reasons.append(f"only the data and safety monitoring board decides, not the {decision.actor.role.value}")
    signature = decision.signature
    if signature is None:
        reasons.append("a DSMB decision must be electronically signed; sign it with your signing PIN")
    else:
        if signature.signer_user_id != decision.actor.user_id:
            reasons.append(
                f"the signature is {signature.signer_user_id}'s but {decision.actor.user_id} is making this decision"
            )
        if signature.signed_sha256 != signed_content_sha256(decision):
            reasons.append("the signature does not match this decision: it was signed over other values")
        if signature.signed_at > now + CLOCK_SKEW_TOLERANCE:
            reasons.append(f"the signature is dated {signature.signed_at.isoformat()}, in the future")
    if any(d.decision_id == decision.decision_id for d in state.decisions):
        return reasons  # recorded already: idempotent, nothing else to check
    if decision.outcome is DsmbOutcome.STOP:
        if state.enrollment is Enrollment.CLOSED and state.closed_because == STOPPED_BY_DSMB:
            reasons.append("the trial is already stopped")
    elif state.enrollment is not Enrollment.PAUSED:
        reasons.append(f"enrollment is {state.enrollment.value}, not paused: there is nothing to resume")
    return reasons


def decide(
    state: TrialState, decision: DsmbDecision, now: datetime, protocol: TrialProtocol
) -> tuple[TrialState, list[str]]:
    """Record the DSMB's decision (idempotent by its id), or the state unchanged and every reason it is refused."""
    reasons = decision_refusals(state, decision, now)
    if reasons or any(d.decision_id == decision.decision_id for d in state.decisions):
        return state, reasons
    record = DsmbRecord(
        decision_id=decision.decision_id,
        outcome=decision.outcome,
        decided_by=decision.actor.user_id,
        decided_at=decision.decided_at,
        amendment_version=decision.amendment_version,
    )
    changes: dict[str, object] = {"decisions": (*state.decisions, record), "paused_at": None}
    if decision.outcome is DsmbOutcome.STOP:
        changes |= {"enrollment": Enrollment.CLOSED, "closed_because": STOPPED_BY_DSMB}
    else:
        changes |= {"enrollment": Enrollment.OPEN, "dlts_reviewed": dlt_count(state)}
        if decision.amendment_version is not None:
            changes["protocol_version"] = decision.amendment_version
    resumed = state.model_copy(update=changes)
    # Reaching the target while paused closes enrollment on resuming.
    return evaluate(resumed, now, protocol).state, []
