"""The DLT observation window after the infusion (protocol, "Safety stopping rule"): when it passes without a DLT the
journey records it (a timer) and tells the trial the patient is evaluable; a patient with a DLT counts at the DLT."""

from __future__ import annotations

from datetime import timedelta

from domain.journey import commands as cmd
from domain.journey.notifications import notifications_for
from domain.journey.timers import due_timers, next_timer_at, pending_timers
from domain.trial.journey_reports import trial_reports
from domain.trial.reports import ReportKind
from simulation.journey_steps import Milestone
from tests.domain.journey_driver import PHYSICIAN, JourneyDriver, crs_findings


def _infused(study_id: str) -> JourneyDriver:
    journey = JourneyDriver(study_id)
    journey.walk_to(Milestone.INFUSED)
    return journey


def test_the_window_passing_without_a_dlt_is_recorded_once_and_reported_to_the_trial() -> None:
    journey = _infused("TF-711")
    infusion = journey.state.infusion
    assert infusion is not None
    ends = infusion.infused_at + timedelta(days=journey.protocol.stopping_rule.dlt_observation_window_days)
    fired = journey.run_timers_until(ends - timedelta(seconds=1))
    assert not any(e.type == "dlt_window_completed" for e in fired)
    before = journey.state
    fired = journey.run_timers_until(ends + timedelta(days=3))
    [completed] = [e for e in fired if e.type == "dlt_window_completed"]
    assert completed.occurred_at == ends and completed.payload.window_ended_at == ends  # type: ignore[union-attr]
    assert journey.state.dlt_window_completed and notifications_for(completed) == []
    [report] = trial_reports(before, journey.state, (completed,), journey.protocol)
    assert (report.event_id, report.kind, report.at) == ("TF-711/window-completed", ReportKind.WINDOW_COMPLETED, ends)
    refused = journey.refused(cmd.CompleteDltWindow(actor=completed.actor))
    assert refused == ("the DLT observation window was already recorded complete",)


def test_a_patient_with_a_dlt_has_no_window_timer() -> None:
    journey = _infused("TF-712")
    journey.advance(days=2)
    grade_3 = crs_findings(max_temperature_c=39.4, hypotension=True, vasopressors_excluding_vasopressin=1)
    journey.do(cmd.AssessCrs(actor=PHYSICIAN, assessed_at=journey.now, findings=grade_3))
    assert not any(t.command.kind == "complete_dlt_window" for t in pending_timers(journey.state, journey.protocol))
    fired = journey.run_timers_until(journey.now + timedelta(days=40))
    assert not any(e.type == "dlt_window_completed" for e in fired)


def test_a_run_recorded_before_the_timer_leaves_it_out() -> None:
    journey = _infused("TF-713")
    kinds = {t.command.kind for t in pending_timers(journey.state, journey.protocol)}
    assert "complete_dlt_window" in kinds
    far = journey.now + timedelta(days=60)
    left_out = frozenset({"complete_dlt_window"})
    assert all(
        t.command.kind != "complete_dlt_window" for t in due_timers(journey.state, journey.protocol, far, left_out)
    )
    assert next_timer_at(journey.state, journey.protocol, journey.now, left_out) is not None
