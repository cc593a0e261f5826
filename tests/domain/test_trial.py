"""The trial's decider: reports counted once, the rule over evaluable patients only, admission, the DSMB."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.amendment import amend
from domain.protocol import PROTOCOL_V1, StoppingRule
from domain.roles import Actor, Role
from domain.signature import SignatureMeaning, sign
from domain.statistics import evaluate_stopping_rule
from domain.trial.census import PatientCounts
from domain.trial.decide import (
    Census,
    admit,
    admit_all,
    apply_report,
    census,
    decide,
    evaluate,
    lymphodepletion_refusal,
    more_dlts_to_pause,
    rule_status,
)
from domain.trial.reports import DsmbDecision, DsmbOutcome, JourneyReport, ReportKind
from domain.trial.state import Enrollment, PatientTally, TrialState
from domain.trial.status import trial_status

P = PROTOCOL_V1
WINDOW = timedelta(days=P.stopping_rule.dlt_observation_window_days)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DSMB = Actor(user_id="dsmb.chair", role=Role.DSMB)


def report(study: str, kind: ReportKind, at: datetime, seq: int | None = None) -> JourneyReport:
    return JourneyReport(event_id=f"{study}/{seq if seq is not None else kind.value}", study_id=study, kind=kind, at=at)


def fed(reports: list[JourneyReport], now: datetime, state: TrialState | None = None) -> tuple[TrialState, int]:
    """The state after `reports`, and how many times the rule fired."""
    state = state or TrialState(trial_identifier="TF")
    fired = 0
    for r in reports:
        outcome = apply_report(state, r, now, P)
        state, fired = outcome.state, fired + outcome.paused_now
    return state, fired


def decision(
    outcome: DsmbOutcome = DsmbOutcome.RESUME,
    *,
    actor: Actor = DSMB,
    signed: bool = True,
    decision_id: str = "DSMB-1",
    amendment: str | None = None,
) -> DsmbDecision:
    unsigned = DsmbDecision(
        decision_id=decision_id,
        actor=actor,
        outcome=outcome,
        decided_at=T0 + timedelta(days=3),
        amendment_version=amendment,
        rationale="Reviewed both events; causality attributed; resume with monitoring.",
    )
    if not signed:
        return unsigned
    return sign(
        unsigned,
        signer_user_id=actor.user_id,
        printed_name="DSMB chair",
        signed_at=T0 + timedelta(days=3),
        meaning=SignatureMeaning.APPROVAL,
    )


def two_dlts(now: datetime) -> TrialState:
    return fed(
        [
            report("TF-001", ReportKind.INFUSED, T0),
            report("TF-002", ReportKind.INFUSED, T0),
            report("TF-001", ReportKind.DOSE_LIMITING_TOXICITY, T0 + timedelta(days=3)),
            report("TF-002", ReportKind.DOSE_LIMITING_TOXICITY, T0 + timedelta(days=4)),
        ],
        now,
    )[0]


# ---------------------------------------------------------------- evaluability


def test_a_patient_infused_yesterday_is_not_counted_until_the_window_passes() -> None:
    state, _ = fed([report("TF-001", ReportKind.INFUSED, T0)], T0 + timedelta(days=1))
    assert rule_status(state, T0 + timedelta(days=1), P).patients == 0
    assert rule_status(state, T0 + WINDOW - timedelta(seconds=1), P).patients == 0
    assert rule_status(state, T0 + WINDOW, P).patients == 1
    assert evaluate(state, T0 + timedelta(days=1), P).next_window_end == T0 + WINDOW  # the trial wakes then


def test_a_dlt_makes_the_patient_evaluable_at_once_and_a_told_window_counts_before_the_clock() -> None:
    now = T0 + timedelta(days=2)
    state, _ = fed(
        [report("TF-001", ReportKind.INFUSED, T0), report("TF-001", ReportKind.DOSE_LIMITING_TOXICITY, now)], now
    )
    assert (rule_status(state, now, P).patients, rule_status(state, now, P).toxicities) == (1, 1)
    state, _ = fed(
        [report("TF-002", ReportKind.INFUSED, T0), report("TF-002", ReportKind.WINDOW_COMPLETED, now)], now, state
    )
    assert rule_status(state, now, P).patients == 2


def test_a_patient_who_left_inside_the_window_without_a_dlt_is_never_evaluable() -> None:
    state, _ = fed(
        [report("TF-001", ReportKind.INFUSED, T0), report("TF-001", ReportKind.EXITED, T0 + timedelta(days=5))],
        T0 + WINDOW * 2,
    )
    status = trial_status(state, T0 + WINDOW * 2, P)
    assert (status.stopping_rule.patients, status.evaluable, status.pending) == (0, (), ())


def test_two_dlts_pause_while_the_others_are_still_in_their_window_but_not_among_four_evaluable() -> None:
    # Counting patients infused days ago (no window) would make the pause less likely early: 2 of 4 does not pause.
    early = T0 + timedelta(days=5)
    others = [report("TF-003", ReportKind.INFUSED, T0), report("TF-004", ReportKind.INFUSED, T0)]
    state, fired = fed(
        [
            *others,
            report("TF-001", ReportKind.INFUSED, T0),
            report("TF-002", ReportKind.INFUSED, T0),
            report("TF-001", ReportKind.DOSE_LIMITING_TOXICITY, early),
            report("TF-002", ReportKind.DOSE_LIMITING_TOXICITY, early),
        ],
        early,
    )
    assert (fired, state.enrollment) == (1, Enrollment.PAUSED)
    assert not evaluate_stopping_rule(2, 4, P.stopping_rule).paused  # what the old denominator would have said
    assert not rule_status(state, T0 + WINDOW, P).paused  # once all four are evaluable the rule would not fire


# ---------------------------------------------------------------- the rule, the boundary


def test_the_rule_fires_once_and_notifies_once() -> None:
    now = T0 + timedelta(days=4)
    state, fired = fed(
        [
            report("TF-001", ReportKind.INFUSED, T0),
            report("TF-002", ReportKind.INFUSED, T0),
            report("TF-001", ReportKind.DOSE_LIMITING_TOXICITY, now),
            report("TF-002", ReportKind.DOSE_LIMITING_TOXICITY, now),
            report("TF-003", ReportKind.INFUSED, T0),
            report("TF-003", ReportKind.DOSE_LIMITING_TOXICITY, now),
        ],
        now,
    )
    assert (fired, state.enrollment, state.paused_at) == (1, Enrollment.PAUSED, now)
    assert more_dlts_to_pause(state, now, P) == 0


def test_more_dlts_to_pause_is_the_first_count_whose_posterior_crosses() -> None:
    now = T0 + WINDOW
    state, _ = fed([report(f"TF-00{i}", ReportKind.INFUSED, T0) for i in range(1, 5)], now)
    more = more_dlts_to_pause(state, now, P)
    assert more is not None and more > 0
    rule = P.stopping_rule
    assert evaluate_stopping_rule(more, 4 + more, rule).paused
    assert not evaluate_stopping_rule(more - 1, 4 + more - 1, rule).paused


@given(
    st.lists(st.tuples(st.integers(1, 12), st.sampled_from(list(ReportKind)), st.integers(0, 60)), max_size=40),
    st.integers(0, 80),
)
def test_the_posterior_is_the_domain_computation_over_evaluable_patients_and_repeats_change_nothing(
    raw: list[tuple[int, ReportKind, int]], now_days: int
) -> None:
    now = T0 + timedelta(days=now_days)
    reports = [report(f"TF-{n:03d}", kind, T0 + timedelta(days=d)) for n, kind, d in raw]
    once, _ = fed(reports, now)
    twice, _ = fed(reports + list(reversed(reports)), now)
    assert twice == once  # by event id: a report delivered again counts once
    status = trial_status(once, now, P)
    rule = evaluate_stopping_rule(status.stopping_rule.toxicities, len(status.evaluable), P.stopping_rule)
    assert status.stopping_rule.posterior_probability == rule.posterior_probability
    first: dict[tuple[str, ReportKind], datetime] = {}
    for r in reports:
        first.setdefault((r.study_id, r.kind), r.at)
    withdrawn = ReportKind.DLT_WITHDRAWN
    dlts = {  # a withdrawal clears the DLT it follows, in whatever order the two arrive
        study
        for (study, kind), at in first.items()
        if kind is ReportKind.DOSE_LIMITING_TOXICITY and not first.get((study, withdrawn), at - WINDOW) >= at
    }
    assert status.stopping_rule.toxicities == len(dlts)
    assert set(status.evaluable) >= dlts
    assert not set(status.evaluable) & {p.study_id for p in status.pending}


def counted_one_by_one(state: TrialState, now: datetime) -> Census:
    """The census by its definition: each patient asked where they stand."""
    rule, patients = P.stopping_rule, list(state.patients.values())
    pending_ends = [p.window_ends_at(rule) for p in patients if p.pending(now, rule)]
    return Census(
        dlts=sum(p.dlt_at is not None for p in patients),
        evaluable=sum(p.evaluable(now, rule) for p in patients),
        infused=sum(p.infused_at is not None for p in patients),
        in_treatment=sum(p.in_treatment() for p in patients),
        next_window_end=min((e for e in pending_ends if e is not None), default=None),
    )


ADMISSION = None  # in a step below: a batch of admissions rather than a report


@given(
    st.lists(st.tuples(st.integers(1, 12), st.sampled_from([*ReportKind, ADMISSION]), st.integers(0, 60)), max_size=40),
    st.lists(st.integers(0, 80), min_size=1, max_size=4),
)
def test_the_census_kept_one_change_at_a_time_counts_what_each_patient_says(
    steps: list[tuple[int, ReportKind | None, int]], read_on_days: list[int]
) -> None:
    """Reports and admissions interleaved, each counted by its change alone: at every step and at any later moment
    the census is the one of asking each patient, and the same as counting the state afresh (a new run's carried
    state, deserialized)."""
    state, now = TrialState(trial_identifier="TF"), T0
    for n, kind, days in steps:
        now = max(now, T0 + timedelta(days=days))
        if kind is ADMISSION:
            state, _ = admit_all(state, [f"TF-{n:03d}", f"TF-{n + 1:03d}"], now, P)
        else:
            state = apply_report(state, report(f"TF-{n:03d}", kind, T0 + timedelta(days=days)), now, P).state
        assert census(state, now, P) == counted_one_by_one(state, now)
    carried = pydantic_data_converter.payload_converter.from_payload(
        pydantic_data_converter.payload_converter.to_payload(state), TrialState
    )
    for days in read_on_days:
        at = T0 + timedelta(days=days)
        assert census(state, at, P) == counted_one_by_one(state, at) == census(carried, at, P)


def test_the_trial_keeps_the_ids_of_dlt_reports_only_the_others_count_once_by_themselves() -> None:
    reports = [
        report("TF-001", ReportKind.INFUSED, T0),
        report("TF-001", ReportKind.DOSE_LIMITING_TOXICITY, T0 + timedelta(days=3), seq=7),
        report("TF-001", ReportKind.DLT_WITHDRAWN, T0 + timedelta(days=4), seq=9),
        report("TF-001", ReportKind.WINDOW_COMPLETED, T0 + WINDOW),
        report("TF-001", ReportKind.EXITED, T0 + WINDOW + timedelta(days=1)),
    ]
    now = T0 + WINDOW + timedelta(days=2)
    once, _ = fed(reports, now)
    assert once.seen_event_ids == {"TF-001/7", "TF-001/9"}  # what the trial carries into its next run
    again, _ = fed(reports, now, once)
    assert again == once and once.patients["TF-001"].dlt_at is None  # the DLT stays withdrawn


# ---------------------------------------------------------------- admission


def test_admission_is_refused_with_every_reason_when_paused_and_full_and_when_closed() -> None:
    small = amend(P, "1.0-small", accrual={"accrual_target_infused": 2})
    now = T0 + timedelta(days=4)
    _, reasons = admit(two_dlts(now), "TF-009", now, small)  # paused by the rule, two infused of two
    assert [("paused" in r, "full" in r) for r in reasons] == [(True, False), (False, True)]
    assert "only a signed DSMB decision" in reasons[0]

    infused = [report("TF-001", ReportKind.INFUSED, T0), report("TF-002", ReportKind.INFUSED, T0)]
    state = TrialState(trial_identifier="TF")
    for r in infused:
        state = apply_report(state, r, now, small).state
    assert (state.enrollment, state.closed_because) == (Enrollment.CLOSED, "the accrual target was reached")
    _, reasons = admit(state, "TF-009", now, small)
    assert reasons == ["enrollment is closed: the accrual target was reached"]


def test_admission_is_idempotent_and_counts_patients_in_treatment_against_the_target() -> None:
    state = TrialState(trial_identifier="TF")
    state, reasons = admit(state, "TF-001", T0, P)
    assert reasons == [] and "TF-001" in state.patients
    assert admit(state, "TF-001", T0, P) == (state, [])
    for n in range(2, P.accrual.accrual_target_infused + 1):
        state, reasons = admit(state, f"TF-{n:03d}", T0, P)
        assert reasons == []
    _, reasons = admit(state, "TF-999", T0, P)
    assert len(reasons) == 1 and "full" in reasons[0]
    left, _ = fed([report("TF-001", ReportKind.EXITED, T0)], T0, state)  # left before infusion: a place frees
    assert admit(left, "TF-999", T0, P)[1] == []


@given(st.lists(st.integers(1, P.accrual.accrual_target_infused + 5), max_size=30), st.integers(0, 3))
def test_a_batch_of_admissions_decides_each_as_one_admission_after_another(numbers: list[int], exited: int) -> None:
    """The trial's update admits a batch counting the patients once: the same answers and state as one by one."""
    state, _ = fed([report(f"TF-{n:03d}", ReportKind.EXITED, T0) for n in range(100, 100 + exited)], T0)
    study_ids = [f"TF-{n:03d}" for n in numbers]
    one_by_one, answers = state, []
    for study_id in study_ids:
        one_by_one, reasons = admit(one_by_one, study_id, T0, P)
        answers.append(reasons)
    assert admit_all(state, study_ids, T0, P) == (one_by_one, answers)


def test_lymphodepletion_is_refused_while_paused_with_the_reason() -> None:
    now = T0 + timedelta(days=4)
    assert lymphodepletion_refusal(TrialState(trial_identifier="TF")) is None
    reason = lymphodepletion_refusal(two_dlts(now))
    assert reason is not None and "paused" in reason and "DSMB" in reason


# ---------------------------------------------------------------- the DSMB


def test_a_signed_dsmb_resume_reopens_enrollment_and_only_a_new_dlt_pauses_again() -> None:
    now = T0 + timedelta(days=4)
    state, reasons = decide(two_dlts(now), decision(), now + timedelta(days=1), P)
    assert (reasons, state.enrollment, state.dlts_reviewed) == ([], Enrollment.OPEN, 2)
    assert admit(state, "TF-010", now, P)[1] == []
    again, fired = fed(
        [report("TF-003", ReportKind.INFUSED, T0), report("TF-003", ReportKind.DOSE_LIMITING_TOXICITY, now)], now, state
    )
    assert (fired, again.enrollment) == (1, Enrollment.PAUSED)
    assert decide(state, decision(), now + timedelta(days=1), P) == (state, [])  # the same decision: idempotent


def test_resume_under_an_amendment_and_stop() -> None:
    now = T0 + timedelta(days=4)
    amended, reasons = decide(
        two_dlts(now), decision(DsmbOutcome.RESUME_UNDER_AMENDMENT, amendment="2.0"), now + timedelta(days=1), P
    )
    assert (reasons, amended.enrollment, amended.protocol_version) == ([], Enrollment.OPEN, "2.0")
    stopped, reasons = decide(two_dlts(now), decision(DsmbOutcome.STOP), now + timedelta(days=1), P)
    assert (reasons, stopped.enrollment) == ([], Enrollment.CLOSED)
    assert "stopped" in (lymphodepletion_refusal(stopped) or "")
    assert any("stopped" in r for r in admit(stopped, "TF-010", now, P)[1])
    with pytest.raises(ValidationError, match="amendment version"):
        decision(DsmbOutcome.RESUME_UNDER_AMENDMENT)


def test_a_decision_not_signed_not_by_the_dsmb_or_on_an_open_trial_is_refused_with_every_reason() -> None:
    now = T0 + timedelta(days=4)
    investigator = Actor(user_id="dr.li", role=Role.INVESTIGATOR)
    state = TrialState(trial_identifier="TF")
    same, reasons = decide(state, decision(actor=investigator, signed=False), now, P)
    assert same == state
    assert len(reasons) == 3
    assert "only the data and safety monitoring board" in reasons[0]
    assert "electronically signed" in reasons[1]
    assert "not paused" in reasons[2]
    tampered = decision().model_copy(update={"outcome": DsmbOutcome.STOP})
    assert any("does not match" in r for r in decide(two_dlts(now), tampered, now + timedelta(days=1), P)[1])


# ---------------------------------------------------------------- a DLT a correction withdrew


def test_a_withdrawn_dlt_is_cleared_once_and_the_pause_stays_until_the_dsmb_decides_saying_so() -> None:
    now = T0 + timedelta(days=4)
    later = now + timedelta(hours=2)
    dlts = [
        report("TF-001", ReportKind.INFUSED, T0),
        report("TF-002", ReportKind.INFUSED, T0),
        report("TF-001", ReportKind.DOSE_LIMITING_TOXICITY, now),
        report("TF-002", ReportKind.DOSE_LIMITING_TOXICITY, now),
    ]
    paused, fired = fed(dlts, now)
    assert (fired, paused.enrollment) == (1, Enrollment.PAUSED)
    assert trial_status(paused, now, P).pause_note is None  # the rule fires: nothing to add

    withdrawn = report("TF-002", ReportKind.DLT_WITHDRAWN, later, seq=40)
    state, fired = fed([withdrawn, withdrawn], later, paused)  # a repeat counts once
    assert fired == 0 and state.enrollment is Enrollment.PAUSED and state.paused_at == now
    assert state.patients["TF-002"].dlt_at is None and state.patients["TF-001"].dlt_at == now
    status = trial_status(state, later, P)
    assert status.stopping_rule.toxicities == 1 and not status.stopping_rule.paused
    assert status.evaluable == ("TF-001",)  # TF-002 is back inside the window, without a DLT
    assert status.pause_note is not None and "stays paused until the DSMB decides" in status.pause_note
    assert admit(state, "TF-009", later, P)[1]  # still refused: only the DSMB moves the trial on
    resumed, reasons = decide(state, decision(), later, P)
    assert not reasons and resumed.enrollment is Enrollment.OPEN and trial_status(resumed, later, P).pause_note is None


def test_a_dlt_report_arriving_after_its_withdrawal_stays_withdrawn_and_a_later_dlt_counts() -> None:
    now = T0 + timedelta(days=4)
    later = now + timedelta(hours=2)
    state, _ = fed(
        [
            report("TF-001", ReportKind.INFUSED, T0),
            report("TF-001", ReportKind.DLT_WITHDRAWN, later, seq=41),  # the DLT's own report was retried
            report("TF-001", ReportKind.DOSE_LIMITING_TOXICITY, now, seq=40),
        ],
        later,
    )
    assert state.patients["TF-001"].dlt_at is None
    again = later + timedelta(days=1)
    state, _ = fed([report("TF-001", ReportKind.DOSE_LIMITING_TOXICITY, again, seq=42)], again, state)
    assert state.patients["TF-001"].dlt_at == again


def test_a_withdrawn_dlt_the_dsmb_had_weighed_lets_the_next_real_one_pause_again() -> None:
    now = T0 + timedelta(days=4)
    state, _ = fed(
        [
            report("TF-001", ReportKind.INFUSED, T0),
            report("TF-002", ReportKind.INFUSED, T0),
            report("TF-001", ReportKind.DOSE_LIMITING_TOXICITY, now),
            report("TF-002", ReportKind.DOSE_LIMITING_TOXICITY, now),
        ],
        now,
    )
    state, _ = decide(state, decision(), now, P)
    assert state.dlts_reviewed == 2
    state, _ = fed([report("TF-002", ReportKind.DLT_WITHDRAWN, now + timedelta(hours=1), seq=50)], now, state)
    assert state.dlts_reviewed == 1
    again = now + timedelta(hours=2)
    state, fired = fed([report("TF-002", ReportKind.DOSE_LIMITING_TOXICITY, again, seq=51)], again, state)
    assert (fired, state.enrollment) == (1, Enrollment.PAUSED)


def test_the_state_carried_into_a_new_run_stays_well_under_temporals_payload_limit_at_10000_patients() -> None:
    """Each tally is written with what is set only, and only DLT reports' ids are kept: 10,000 patients, each
    infused, their window completed and off study, fit in 1.3 MB (Temporal refuses payloads over 2 MB)."""
    patients: dict[str, PatientTally] = {}
    for n in range(10_000):
        tally = PatientTally(study_id=f"TF-{n:05d}", infused_at=T0, window_completed=True, exited_at=T0 + WINDOW)
        patients[tally.study_id] = tally
    state = TrialState(trial_identifier="TF", patients=patients, seen_event_ids=frozenset({"TF-00001/7"}))
    [payload] = pydantic_data_converter.payload_converter.to_payloads([state])
    assert len(payload.data) < 1_400_000  # 2.3 MB before (every field written, three ids a patient kept)
    assert b"dlt_at" not in payload.data  # never set: not written
    assert pydantic_data_converter.payload_converter.from_payloads([payload], [TrialState]) == [state]


def test_a_report_and_an_admission_count_the_changed_patient_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trial weighs every report against all its patients: after the first census, a report or an admission is
    counted by its own change, never by visiting every patient again (at 10,000 patients that pass cost 25 ms a
    report). Counted by how many patients each count visits."""
    roomy = amend(P, "1.0-roomy", accrual={"accrual_target_infused": 5_000})
    state, _ = admit_all(TrialState(trial_identifier="TF"), [f"TF-{n:04d}" for n in range(1_000)], T0, roomy)
    census(state, T0, roomy)
    visited: list[int] = []
    count = PatientCounts.of

    def counting(patients: Iterable[PatientTally], rule: StoppingRule) -> PatientCounts:
        patients = list(patients)
        visited.append(len(patients))
        return count(patients, rule)

    monkeypatch.setattr(PatientCounts, "of", staticmethod(counting))
    state = apply_report(state, report("TF-0007", ReportKind.INFUSED, T0), T0, roomy).state
    state, _ = admit_all(state, ["TF-2000", "TF-2001"], T0, roomy)
    state = evaluate(state, T0 + WINDOW, roomy).state
    assert census(state, T0 + WINDOW, roomy) == counted_one_by_one(state, T0 + WINDOW)
    assert visited and max(visited) <= 1
