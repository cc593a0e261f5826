"""What journeys tell the TrialWorkflow, on the time-skipping server: the end of the DLT observation window (the
trial's evaluable count moves then, and the report, not only the trial's own clock, says so), a correction that
withdraws a DLT (counted out, the pause kept until the DSMB decides), and the thawed cells' limit passing without an
infusion (the investigator told at once)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType

from domain.journey import commands as cmd
from domain.journey.notifications import Notification, Topic, Urgency
from domain.protocol import PROTOCOL_V1
from domain.trial.reports import JourneyReport, ReportKind
from domain.trial.state import Enrollment
from domain.trial.status import TrialStatus
from simulation.journey_steps import amended
from tests.domain.journey_driver import PHYSICIAN, crs_findings
from tests.waiting import eventually, poll
from tests.workflows.journey_client import JourneyClient
from tests.workflows.test_trial_workflow import Trial, trial
from workers.time_skipping import skip_time
from workflows.patient_journey import PatientJourneyWorkflow
from workflows.trial_messages import trial_workflow_id
from workflows.trial_workflow import TrialWorkflow

__all__ = ["trial"]  # the fixture, shared with the trial workflow's own tests

GRADE_4 = crs_findings(max_temperature_c=39.5, hypotension=True, vasopressors_excluding_vasopressin=2)
GRADE_2 = crs_findings(max_temperature_c=39.5, hypotension=True)


class SiteTrial(Trial):
    """The trial the journeys on this worker's queue report to (the protocol's identifier): started by the first
    journey's report, so its status is asked again until it answers."""

    async def status_when(self, what: str, check: Any) -> TrialStatus:
        async def answer() -> TrialStatus:
            status = await self.status()
            assert check(status), status
            return status

        return await eventually(answer, what)


def _site_trial(trial: Trial) -> SiteTrial:
    handle = trial.env.client.get_workflow_handle_for(
        TrialWorkflow.run, trial_workflow_id(PROTOCOL_V1.accrual.trial_identifier, trial.task_queue)
    )
    return SiteTrial(trial.env, trial.channel, handle, trial.task_queue)


async def _reports_received(trial: Trial) -> list[JourneyReport]:
    """Every report signal in the trial workflow's history, decoded."""
    history = await trial.handle.fetch_history()
    converter = trial.env.client.data_converter
    received = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attributes = event.workflow_execution_signaled_event_attributes
            if attributes.signal_name == "report":
                [report] = await converter.decode(attributes.input.payloads, [JourneyReport])
                received.append(report)
    return received


async def test_the_end_of_the_dlt_window_is_reported_and_the_evaluable_count_moves_then(trial: Trial) -> None:
    site_trial = _site_trial(trial)
    journey = JourneyClient(trial.env.client, trial.task_queue, "TF-401", trial.env)
    try:
        await journey.to_infusion()
        await journey.infuse()
        pending = await site_trial.status_when("TF-401 pending", lambda s: len(s.pending) == 1)
        assert (pending.evaluable, pending.stopping_rule.patients) == ((), 0)
        ends = pending.pending[0].window_ends_at  # the infusion's time, as the journey reported it, and the window

        await journey.skip_to(ends - timedelta(hours=1))
        assert (await site_trial.status()).evaluable == ()
        await journey.skip_to(ends + timedelta(hours=1))
        counted = await site_trial.status_when("TF-401 evaluable", lambda s: s.evaluable == ("TF-401",))
        assert counted.pending == () and counted.stopping_rule.patients == 1

        timeline = await journey.handle.query(PatientJourneyWorkflow.timeline)
        [completed] = [entry for entry in timeline if entry.type == "dlt_window_completed"]
        assert ends <= completed.occurred_at < ends + timedelta(minutes=1) and completed.actor_role == "system"

        async def window_report() -> JourneyReport | None:
            reports = await _reports_received(site_trial)
            return next((r for r in reports if r.kind is ReportKind.WINDOW_COMPLETED), None)

        report = await poll(window_report, "the journey reports the window's end to the trial")
        assert (report.event_id, report.study_id, report.at) == ("TF-401/window-completed", "TF-401", ends)
    finally:
        await journey.stop()


async def test_a_correction_that_withdraws_a_dlt_reaches_the_trial_and_the_pause_stays(trial: Trial) -> None:
    site_trial = _site_trial(trial)
    journeys = [JourneyClient(trial.env.client, trial.task_queue, study, trial.env) for study in ("TF-411", "TF-412")]
    try:
        for journey in journeys:
            await journey.to_infusion()
            await journey.infuse()
        assessments = []
        for journey in journeys:
            crs = cmd.AssessCrs(actor=PHYSICIAN, assessed_at=await journey.now(), findings=GRADE_4)
            assessments.append((crs, await journey.do(crs)))
        paused = await site_trial.status_when("paused by two DLTs", lambda s: s.enrollment is Enrollment.PAUSED)
        assert paused.stopping_rule.toxicities == 2 and paused.pause_note is None

        crs, recorded = assessments[1]
        corrected = amended(
            crs,
            findings=GRADE_2,
            correction=cmd.Correction(supersedes_sequence=recorded.events[0].sequence, reason="vasopressor mischarted"),
        )
        await journeys[1].do(corrected)
        withdrawn = await site_trial.status_when("the DLT counted out", lambda s: s.stopping_rule.toxicities == 1)
        assert withdrawn.enrollment is Enrollment.PAUSED  # only the DSMB moves the trial on
        assert withdrawn.evaluable == ("TF-411",) and [p.study_id for p in withdrawn.pending] == ["TF-412"]
        assert withdrawn.pause_note is not None and "stays paused until the DSMB decides" in withdrawn.pause_note
        assert not (await site_trial.admit("TF-419")).admitted
    finally:
        for journey in journeys:
            await journey.stop()


async def test_thawed_cells_not_infused_in_time_tell_the_investigator_at_once(trial: Trial) -> None:
    journey = JourneyClient(trial.env.client, trial.task_queue, "TF-421", trial.env)

    def late_alerts() -> list[Notification]:
        late = Topic.INFUSION_LATE_AFTER_THAW
        return [n for n, _ in trial.channel.sent if n.study_id == "TF-421" and n.topic is late]

    try:
        await journey.to_infusion()
        status = await journey.status()
        infusion_item = next(d for d in status.due if d.code == "INFUSION")
        assert infusion_item.window_opens is not None
        await journey.move_to(infusion_item.window_opens)
        await journey.thaw()  # the end of thawing a quarter of an hour ago
        custody = (await journey.status()).custody
        assert custody is not None and custody.step == "thawed" and isinstance(custody.since, datetime)
        limit = custody.since + timedelta(minutes=PROTOCOL_V1.custody.max_minutes_thaw_to_infusion)

        await journey.skip_to(limit - timedelta(minutes=1))
        await journey.settled()
        assert late_alerts() == []
        await journey.skip_to(limit + timedelta(minutes=1))

        async def told() -> list[Notification] | None:
            return late_alerts() or None

        [alert] = await poll(told, "the investigator told the thawed cells wait past their limit")
        assert (alert.role.value, alert.urgency) == ("investigator", Urgency.IMMEDIATE)
        assert alert.facts.due_at == limit and "Decide now" in alert.body
        await skip_time(trial.env, timedelta(hours=1))
        await journey.settled()
        assert len(late_alerts()) == 1  # told once
        timeline = await journey.handle.query(PatientJourneyWorkflow.timeline)
        [late] = [entry for entry in timeline if entry.type == "infusion_late_after_thaw"]
        assert limit <= late.occurred_at < limit + timedelta(minutes=1)
    finally:
        await journey.stop()
