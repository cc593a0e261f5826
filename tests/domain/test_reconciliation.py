"""The reconciliation's judgement: a healthy workflow never disagrees with its record; a timer that never fired, an
overdue item left unmarked, an event one side lacks, a stopped or stuck workflow each give one stable mismatch."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.canonical_json import canonical_json
from domain.journey import CommandRejected, decide, fold
from domain.journey import commands as cmd
from domain.journey.events import Event
from domain.journey.notifications import Urgency
from domain.journey.permissions import ALLOWED_ROLES
from domain.journey.reconciliation import (
    FAILING_TASK_ATTEMPTS,
    TIMER_GRACE,
    Mismatch,
    MismatchKind,
    WorkflowObservation,
    compare,
    expect_from_record,
    supervisor_alert,
)
from domain.journey.state import JourneyState
from domain.journey.views import patient_status
from domain.protocol import PROTOCOL_V1
from domain.roles import Actor, Role
from domain.site_time import end_of_site_day, site_moment
from simulation import journey_steps as path
from tests.domain.journey_driver import INVESTIGATOR, JourneyDriver
from tests.domain.test_journey_properties import ACTIONS, next_right_step

RULES = PROTOCOL_V1.schedule
# The longest a notification key may be: the ledger's column holds 200 characters, and escalation adds a suffix.
LEDGER_KEY_ROOM = 200 - len("/escalation")


def workflow_view(state: JourneyState, at: datetime, **overrides: Any) -> WorkflowObservation:
    """What a healthy PatientJourneyWorkflow shows when it last woke at `at`: its status query and the search
    attributes it upserts from the same status."""
    status = patient_status(state, PROTOCOL_V1, at)
    next_due_on = status.next_due.due_on if status.next_due else None
    values: dict[str, Any] = {
        "study_id": state.study_id,
        "execution_status": "running",
        "run_id": "run-1",
        "status": status,
        "phase_attribute": status.phase.value,
        "overdue_attribute": status.overdue,
        "next_due_date_attribute": site_moment(next_due_on, 0, RULES) if next_due_on else None,
    }
    values.update(overrides)
    return WorkflowObservation(**values)


def reconcile(journey: JourneyDriver, as_of: datetime, observed: WorkflowObservation) -> list[Mismatch]:
    return compare(expect_from_record(journey.state.study_id, journey.events, as_of), observed)


def kinds(found: list[Mismatch]) -> list[MismatchKind]:
    return [m.kind for m in found]


def infusion_window_closes_at(journey: JourneyDriver) -> datetime:
    completed = journey.state.lymphodepletion_completed
    assert completed is not None
    return end_of_site_day(completed.infusion_window_closes, RULES)


# ---------------------------------------------------------------- agreement


def test_a_healthy_journey_in_follow_up_agrees_with_its_record() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.run_timers_until(journey.now + timedelta(days=40))
    assert reconcile(journey, journey.now, workflow_view(journey.state, journey.now)) == []


def test_a_closed_infusion_window_the_workflow_fired_and_marked_agrees() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.run_timers_until(infusion_window_closes_at(journey) + timedelta(days=2))
    status = patient_status(journey.state, PROTOCOL_V1, journey.now)
    assert status.overdue and any(item.code == "LATE-INFUSION" for item in status.due)
    assert reconcile(journey, journey.now, workflow_view(journey.state, journey.now)) == []


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_workflow_that_fires_every_timer_is_never_reported(data: st.DataObject) -> None:
    """Random journeys, right and wrong steps, timers fired as the workflow fires them; the reconciliation looks at
    any moment up to the grace period after the workflow last woke, and finds nothing."""
    journey = JourneyDriver()
    for _ in range(data.draw(st.integers(5, 60), label="steps")):
        journey.advance(hours=data.draw(st.sampled_from([0, 1, 6, 24, 24 * 7, 24 * 40])))
        journey.run_timers_until(journey.now)
        build = next_right_step if data.draw(st.integers(0, 9)) < 8 else data.draw(st.sampled_from(ACTIONS))
        try:
            command = build(journey, data, Actor(user_id="u1", role=Role.SUPERVISOR))
        except ValidationError:
            continue
        right_roles = sorted(ALLOWED_ROLES[command.kind])
        role = data.draw(
            st.sampled_from(right_roles) if data.draw(st.integers(0, 9)) else st.sampled_from(sorted(Role))
        )
        command = command.model_copy(update={"actor": Actor(user_id="u1", role=role)})
        try:
            events = decide(journey.state, command, journey.now, journey.protocol)
        except CommandRejected:
            continue
        journey.state = fold(journey.state, events)
        journey.events.extend(events)
    journey.run_timers_until(journey.now)
    later = timedelta(seconds=data.draw(st.integers(0, int(TIMER_GRACE.total_seconds())), label="seconds later"))
    observed = workflow_view(journey.state, journey.now)
    if journey.state.is_final and not journey.state.open_expedited_reports:
        observed = observed.model_copy(update={"execution_status": "completed", "status": None})
    assert reconcile(journey, journey.now + later, observed) == []


# ---------------------------------------------------------------- timers and overdue items


def test_an_infusion_window_timer_that_never_fired_is_reported_once_as_urgent() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    stale = workflow_view(journey.state, journey.now)  # the workflow never woke again
    closes_at = infusion_window_closes_at(journey)

    assert reconcile(journey, closes_at + TIMER_GRACE - timedelta(seconds=1), stale) == []  # late, not yet missing
    found = reconcile(journey, closes_at + TIMER_GRACE, stale)
    assert kinds(found) == [MismatchKind.TIMER_NOT_FIRED]  # its overdue INFUSION item is this timer, not another
    [late] = found
    assert late.urgent
    assert "expire infusion window INFUSION" in late.detail and closes_at.isoformat() in late.detail
    # Found again an hour later, it is the same mismatch: the same key, so the alert goes out once.
    assert reconcile(journey, closes_at + timedelta(hours=5), stale) == found


def test_missed_visit_timers_that_never_fired_are_each_reported() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    stale = workflow_view(journey.state, journey.now)
    found = reconcile(journey, journey.now + timedelta(days=30), stale)
    missed = [m for m in found if "mark visit missed" in m.detail]
    assert missed and set(kinds(found)) == {MismatchKind.TIMER_NOT_FIRED}
    assert not any(m.urgent for m in missed)  # a visit can wait for the working day
    assert len({m.key for m in found}) == len(found)


def test_a_dose_gone_overdue_that_the_workflow_did_not_mark_is_reported() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.prescribe()
    plan = journey.state.lymphodepletion
    assert plan is not None
    stale = workflow_view(journey.state, journey.now)
    assert not stale.overdue_attribute
    as_of = end_of_site_day(plan.planned_start_on, RULES) + TIMER_GRACE

    [found] = reconcile(journey, as_of, stale)
    assert found.kind is MismatchKind.OVERDUE_NOT_MARKED
    assert "LD-FLU-1" in found.detail and "LD-CYC-1" in found.detail
    assert "status query" in found.detail and "Overdue search attribute" in found.detail

    # The workflow that woke at the end of that day marked it: nothing to report.
    woke = workflow_view(journey.state, end_of_site_day(plan.planned_start_on, RULES))
    assert woke.overdue_attribute
    assert reconcile(journey, as_of, woke) == []
    # Marked in its status but not in the search attribute supervisors list by: still a mismatch.
    [attribute] = reconcile(journey, as_of, woke.model_copy(update={"overdue_attribute": False}))
    assert attribute.kind is MismatchKind.OVERDUE_NOT_MARKED and "status query" not in attribute.detail


# ---------------------------------------------------------------- events, phase, next due


def test_an_event_only_the_record_holds_or_only_the_workflow_applied_is_reported() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    before = journey.state
    journey.collect()
    now = journey.now

    [ahead] = reconcile(journey, now, workflow_view(before, now))
    assert ahead.kind is MismatchKind.RECORD_AHEAD
    assert f"events {before.last_sequence + 1} to {journey.state.last_sequence}" in ahead.detail

    record_lacks = compare(
        expect_from_record("TF-001", journey.events[: before.last_sequence], now), workflow_view(journey.state, now)
    )
    assert kinds(record_lacks) == [MismatchKind.RECORD_BEHIND]


def test_a_phase_or_next_due_item_the_workflow_shows_differently_is_reported() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.prescribe()
    healthy = workflow_view(journey.state, journey.now)
    assert reconcile(journey, journey.now, healthy) == []

    [phase] = reconcile(journey, journey.now, healthy.model_copy(update={"phase_attribute": "infusion"}))
    assert phase.kind is MismatchKind.PHASE_DIFFERS
    assert "lymphodepletion" in phase.detail and "TrialPhase search attribute in infusion" in phase.detail

    assert healthy.next_due_date_attribute is not None
    wrong_date = healthy.model_copy(
        update={"next_due_date_attribute": healthy.next_due_date_attribute.replace(year=2030)}
    )
    [next_due] = reconcile(journey, journey.now, wrong_date)
    assert next_due.kind is MismatchKind.NEXT_DUE_DIFFERS and "NextDueDate" in next_due.detail

    assert healthy.status is not None
    other_status = healthy.status.model_copy(update={"next_due": None, "phase": journey.state.phase.INFUSION})
    found = reconcile(journey, journey.now, healthy.model_copy(update={"status": other_status}))
    assert kinds(found) == [MismatchKind.PHASE_DIFFERS, MismatchKind.NEXT_DUE_DIFFERS]
    assert "status query: nothing due" in found[1].detail


def as_the_record_reads_it(event: Event) -> Event:
    """`event` read back from the trial record, which stores each payload as canonical JSON (sorted keys)."""
    return Event.model_validate_json(canonical_json(event.model_dump(mode="json")))


def test_items_due_at_the_same_moment_are_compared_as_a_set() -> None:
    """Finding 9: LD-CYC-2 and LD-FLU-2 fall due at the same moment; the record, read back with sorted keys, lists
    cyclophosphamide first, the workflow fludarabine first. Neither is wrong: no mismatch."""
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.prescribe()
    plan = journey.state.lymphodepletion
    assert plan is not None
    steps = path.lymphodepletion_doses(journey.patient, plan.planned_start_on, journey.protocol, plan.daily_dose_mg)
    journey.walk(steps[:2])  # day 1 of both drugs: day 2 of both is due next, on the same day
    observed = workflow_view(journey.state, journey.now)
    assert observed.status is not None and observed.status.next_due is not None
    assert observed.status.next_due.code == "LD-FLU-2"
    recorded = [as_the_record_reads_it(e) for e in journey.events]
    expected = expect_from_record(journey.state.study_id, recorded, journey.now)
    assert expected.next_due is not None and expected.next_due.code == "LD-CYC-2"
    assert compare(expected, observed) == []
    # A different item at that moment, or the same items at another moment, still disagrees.
    assert observed.status is not None
    elsewhere = observed.status.next_due.model_copy(update={"code": "LD-FLU-3"})
    other = observed.model_copy(update={"status": observed.status.model_copy(update={"next_due": elsewhere})})
    assert kinds(compare(expected, other)) == [MismatchKind.NEXT_DUE_DIFFERS]


# ---------------------------------------------------------------- the workflow itself


def test_a_workflow_that_stopped_before_its_journey_ended_is_reported_and_a_finished_one_is_not() -> None:
    journey = JourneyDriver()
    journey.to_consent()
    stopped = workflow_view(journey.state, journey.now, execution_status="terminated", status=None)
    [found] = reconcile(journey, journey.now, stopped)
    assert found.kind is MismatchKind.WORKFLOW_NOT_RUNNING and found.urgent and "terminated" in found.detail
    missing = WorkflowObservation(study_id="TF-001", execution_status=None)
    assert "not found" in reconcile(journey, journey.now, missing)[0].detail

    journey.do(cmd.WithdrawConsent(actor=INVESTIGATOR, withdrawn_on=journey.today, reason="family decision"))
    closed = workflow_view(journey.state, journey.now, execution_status="completed", status=None)
    assert reconcile(journey, journey.now, closed) == []


def test_a_workflow_reset_by_hand_is_raised_at_once_and_once_per_reset() -> None:
    journey = JourneyDriver()
    journey.to_consent()
    reset_at = journey.now - timedelta(minutes=5)
    [found] = reconcile(journey, journey.now, workflow_view(journey.state, journey.now, last_reset_at=reset_at))
    assert found.kind is MismatchKind.WORKFLOW_RESET and found.urgent and reset_at.isoformat() in found.detail
    # The same reset found again an hour later is the same alert; another reset is a new one.
    again = reconcile(journey, journey.now, workflow_view(journey.state, journey.now, last_reset_at=reset_at))
    later = reconcile(journey, journey.now, workflow_view(journey.state, journey.now, last_reset_at=journey.now))
    assert again[0].key == found.key != later[0].key
    assert reconcile(journey, journey.now, workflow_view(journey.state, journey.now)) == []


@pytest.mark.parametrize("closed", ["terminated", "canceled", "timed_out", "failed", "completed", "continued_as_new"])
def test_a_workflow_closed_outside_the_api_before_its_journey_ended_is_raised_at_once(closed: str) -> None:
    # Terminated, cancelled or reset by hand (the reset run's predecessor is terminated), or completed while the record
    # says the journey goes on: supervisors are told immediately, naming how it closed.
    journey = JourneyDriver()
    journey.to_consent()
    [found] = reconcile(
        journey, journey.now, workflow_view(journey.state, journey.now, execution_status=closed, status=None)
    )
    assert found.kind is MismatchKind.WORKFLOW_NOT_RUNNING and found.urgent and closed in found.detail
    assert supervisor_alert(found).urgency is Urgency.IMMEDIATE and supervisor_alert(found).role is Role.SUPERVISOR


def test_a_failing_workflow_task_and_an_unanswered_query_are_reported() -> None:
    journey = JourneyDriver()
    journey.to_consent()
    failing = workflow_view(journey.state, journey.now, workflow_task_attempt=FAILING_TASK_ATTEMPTS)
    assert kinds(reconcile(journey, journey.now, failing)) == [MismatchKind.WORKFLOW_TASK_FAILING]
    retried_once = workflow_view(journey.state, journey.now, workflow_task_attempt=FAILING_TASK_ATTEMPTS - 1)
    assert reconcile(journey, journey.now, retried_once) == []

    silent = workflow_view(journey.state, journey.now, status=None, status_error="query timed out")
    [found] = reconcile(journey, journey.now, silent)
    assert found.kind is MismatchKind.WORKFLOW_NOT_ANSWERING and "query timed out" in found.detail


# ---------------------------------------------------------------- keys and alerts


def test_keys_are_stable_per_patient_and_mismatch_and_fit_the_ledger() -> None:
    first, second = JourneyDriver("TF-001"), JourneyDriver("TF-002")
    for journey in (first, second):
        journey.to_follow_up()
    found = {
        journey.state.study_id: reconcile(
            journey, journey.now + timedelta(days=30), workflow_view(journey.state, journey.now)
        )
        for journey in (first, second)
    }
    keys = [m.key for mismatches in found.values() for m in mismatches]
    assert len(set(keys)) == len(keys)  # no two patients, no two mismatches share a key
    assert all(
        k.startswith(f"{m.study_id}/reconciliation/{m.kind.value}/")
        for ms in found.values()
        for m in ms
        for k in [m.key]
    )
    assert max(len(k) for k in keys) <= LEDGER_KEY_ROOM


def test_the_supervisors_alert_names_the_study_id_and_what_disagrees_never_the_child() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    [late] = reconcile(journey, journey.now + timedelta(days=30), workflow_view(journey.state, journey.now))
    alert = supervisor_alert(late)
    assert alert.role is Role.SUPERVISOR and alert.key == late.key and alert.study_id == "TF-001"
    assert alert.urgency is Urgency.IMMEDIATE
    assert alert.subject.startswith("TF-001: ") and late.detail in alert.body
    birth = journey.state.date_of_birth
    assert birth is not None and birth.isoformat() not in alert.body + alert.subject
