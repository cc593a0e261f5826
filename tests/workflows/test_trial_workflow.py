"""TrialWorkflow on the time-skipping server: DLTs that cross the boundary pause enrollment at once (the next
enrollment and a pending lymphodepletion refused with the reason; investigator, supervisors and DSMB told at once),
only a signed DSMB decision resumes it; a patient counts once their DLT observation window has passed; the
posterior is the domain's computation; a report delivered twice counts once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.journey import commands as cmd
from domain.journey.notifications import Notification, Topic, Urgency
from domain.protocol import PROTOCOL_V1
from domain.roles import Actor, Role
from domain.signature import SignatureMeaning, sign
from domain.statistics import evaluate_stopping_rule
from domain.trial.reports import DsmbDecision, DsmbOutcome, JourneyReport, ReportKind
from domain.trial.state import Enrollment
from domain.trial.status import TrialStatus
from notifications import ChannelKind, Notifier
from records import EventStore
from records.deliveries import DeliveryLedger
from tests.domain.journey_driver import PHYSICIAN, crs_findings
from tests.notifications.people import webhook_directory
from tests.waiting import poll
from tests.workflows.journey_client import JourneyClient, settle_then_terminate
from tests.workflows.test_reconciliation import RecordingChannel
from workers.time_skipping import server_time, skip_time
from workers.worker import journey_worker
from workflows.trial_messages import AdmissionBatch, AdmissionRequest, AdmissionResult, TrialInput, trial_workflow_id
from workflows.trial_workflow import TrialWorkflow

WINDOW = timedelta(days=PROTOCOL_V1.stopping_rule.dlt_observation_window_days)
DSMB = Actor(user_id="dsmb.chair", role=Role.DSMB)


@dataclass
class Trial:
    env: WorkflowEnvironment
    channel: RecordingChannel
    handle: WorkflowHandle[TrialWorkflow, None]
    task_queue: str

    async def admit(self, study_id: str) -> AdmissionResult:
        return await self.handle.execute_update(TrialWorkflow.admit, AdmissionRequest(study_id=study_id))

    async def report(self, study_id: str, kind: ReportKind, event_id: str | None = None) -> None:
        now = await self.now()
        report = JourneyReport(event_id=event_id or f"{study_id}/{kind.value}", study_id=study_id, kind=kind, at=now)
        await self.handle.signal(TrialWorkflow.report, report)

    async def now(self) -> datetime:
        return await server_time(self.env)

    async def status(self) -> TrialStatus:
        return await self.handle.query(TrialWorkflow.status)

    async def status_when(self, what: str, check: Any) -> TrialStatus:
        async def answer() -> TrialStatus | None:
            status = await self.status()
            return status if check(status) else None

        return await poll(answer, what)

    async def decide(self, decision: DsmbDecision) -> TrialStatus:
        return await self.handle.execute_update(TrialWorkflow.dsmb_decision, decision)

    def pause_alerts(self) -> list[Notification]:
        return [n for n, _ in self.channel.sent if n.topic is Topic.ENROLLMENT_PAUSED]


@pytest_asyncio.fixture
async def trial(own_time_skipping_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Trial]:
    store = EventStore(f"sqlite:///{tmp_path / 'trial-record.db'}")
    store.migrate()
    channel = RecordingChannel()
    directory = webhook_directory(lambda role: f"https://hooks.example.org/{role.value}")
    notifier = Notifier(directory, DeliveryLedger(store.engine), {ChannelKind.WEBHOOK: channel})
    task_queue = f"trial-{uuid.uuid4()}"
    identifier = f"T{uuid.uuid4().hex[:6].upper()}"
    client = own_time_skipping_env.client
    async with journey_worker(client, store, task_queue=task_queue, notifier=notifier):
        handle = await client.start_workflow(
            TrialWorkflow.run,
            TrialInput(trial_identifier=identifier),
            id=trial_workflow_id(identifier),
            task_queue=task_queue,
        )
        try:
            yield Trial(own_time_skipping_env, channel, handle, task_queue)
        finally:
            await settle_then_terminate(client, handle)
    store.close()


async def signed_decision(trial: Trial, outcome: DsmbOutcome, actor: Actor = DSMB) -> DsmbDecision:
    now = await trial.now()
    unsigned = DsmbDecision(
        decision_id=f"DSMB-{uuid.uuid4().hex[:8]}",
        actor=actor,
        outcome=outcome,
        decided_at=now,
        rationale="Both DLTs reviewed: expected CRS, managed per protocol; resume with closer monitoring.",
    )
    return sign(
        unsigned,
        signer_user_id=actor.user_id,
        printed_name="DSMB chair",
        signed_at=now,
        meaning=SignatureMeaning.APPROVAL,
    )


async def test_dlts_crossing_the_boundary_pause_enrollment_and_a_signed_dsmb_decision_resumes_it(trial: Trial) -> None:
    for study in ("TF-101", "TF-102", "TF-103"):
        assert (await trial.admit(study)).admitted
    for study in ("TF-101", "TF-102"):
        await trial.report(study, ReportKind.INFUSED)
    await trial.report("TF-101", ReportKind.DOSE_LIMITING_TOXICITY)
    await trial.report("TF-101", ReportKind.DOSE_LIMITING_TOXICITY)  # delivered again: counted once
    open_still = await trial.status_when("one DLT counted", lambda s: s.stopping_rule.toxicities == 1)
    assert open_still.enrollment is Enrollment.OPEN and open_still.more_dlts_to_pause == 1

    await trial.report("TF-102", ReportKind.DOSE_LIMITING_TOXICITY)
    paused = await trial.status_when("enrollment paused", lambda s: s.enrollment is Enrollment.PAUSED)
    assert (paused.stopping_rule.toxicities, paused.evaluable, paused.more_dlts_to_pause) == (
        2,
        ("TF-101", "TF-102"),
        0,
    )
    expected = evaluate_stopping_rule(2, 2, PROTOCOL_V1.stopping_rule)
    assert paused.stopping_rule.posterior_probability == expected.posterior_probability

    refused = await trial.admit("TF-104")
    assert not refused.admitted
    assert [r for r in refused.reasons if "paused by the safety stopping rule" in r]
    # TF-103 is enrolled, not yet lymphodepleted: no new lymphodepletion while paused, with the reason.
    assert paused.lymphodepletion_refused_because is not None and "DSMB" in paused.lymphodepletion_refused_because

    async def told() -> list[Notification] | None:
        alerts = trial.pause_alerts()
        return alerts if len(alerts) == 3 else None

    alerts = await poll(told, "the investigator, supervisor and DSMB told")
    assert sorted(a.role for a in alerts) == sorted([Role.INVESTIGATOR, Role.SUPERVISOR, Role.DSMB])
    assert {a.urgency for a in alerts} == {Urgency.IMMEDIATE}
    assert all(a.facts.posterior_probability == expected.posterior_probability for a in alerts)

    # Only the DSMB, signed: the investigator's signed decision is refused and changes nothing.
    investigator = Actor(user_id="dr.li", role=Role.INVESTIGATOR)
    with pytest.raises(WorkflowUpdateFailedError) as not_dsmb:
        await trial.decide(await signed_decision(trial, DsmbOutcome.RESUME, investigator))
    assert "only the data and safety monitoring board decides" in str(not_dsmb.value.cause)
    unsigned = (await signed_decision(trial, DsmbOutcome.RESUME)).model_copy(update={"signature": None})
    with pytest.raises(WorkflowUpdateFailedError) as not_signed:
        await trial.decide(unsigned)
    assert "must be electronically signed" in str(not_signed.value.cause)
    assert (await trial.status()).enrollment is Enrollment.PAUSED

    resumed = await trial.decide(await signed_decision(trial, DsmbOutcome.RESUME))
    assert resumed.enrollment is Enrollment.OPEN and resumed.lymphodepletion_refused_because is None
    assert (await trial.admit("TF-104")).admitted
    assert len(trial.pause_alerts()) == 3  # told once


async def test_a_patient_counts_once_their_dlt_observation_window_has_passed(trial: Trial) -> None:
    assert (await trial.admit("TF-201")).admitted
    await trial.report("TF-201", ReportKind.INFUSED)
    pending = await trial.status_when("TF-201 pending", lambda s: len(s.pending) == 1)
    assert (pending.evaluable, pending.stopping_rule.patients) == ((), 0)
    assert pending.pending[0].study_id == "TF-201"

    await skip_time(trial.env, WINDOW - timedelta(days=1))
    assert (await trial.status()).stopping_rule.patients == 0
    await skip_time(trial.env, timedelta(days=2))
    # The workflow woke at the window's end on its own: nobody reported anything.
    counted = await trial.status_when("TF-201 evaluable", lambda s: s.evaluable == ("TF-201",))
    assert counted.pending == () and counted.stopping_rule.patients == 1
    expected = evaluate_stopping_rule(0, 1, PROTOCOL_V1.stopping_rule)
    assert counted.stopping_rule.posterior_probability == expected.posterior_probability


async def test_journeys_report_infusions_and_dlts_and_the_trial_pauses(trial: Trial) -> None:
    """The journeys' own hook: no report is sent by hand. Their trial is the protocol's, on their worker's queue."""
    client = trial.env.client
    site_trial = Trial(
        trial.env,
        trial.channel,
        client.get_workflow_handle_for(
            TrialWorkflow.run, trial_workflow_id(PROTOCOL_V1.accrual.trial_identifier, trial.task_queue)
        ),
        trial.task_queue,
    )
    journeys = [JourneyClient(client, trial.task_queue, study, trial.env) for study in ("TF-301", "TF-302")]
    try:
        for journey in journeys:  # one after the other: the shared clock would close the first one's window
            await journey.to_infusion()
            await journey.infuse()
        infused = await site_trial.status_when("both infused", lambda s: s.infused == 2)
        assert infused.enrollment is Enrollment.OPEN and [p.study_id for p in infused.pending] == ["TF-301", "TF-302"]
        for journey in journeys:
            grade_4 = crs_findings(max_temperature_c=39.5, hypotension=True, vasopressors_excluding_vasopressin=2)
            await journey.do(cmd.AssessCrs(actor=PHYSICIAN, assessed_at=await journey.now(), findings=grade_4))
        paused = await site_trial.status_when(
            "paused by the journeys' DLTs", lambda s: s.enrollment is Enrollment.PAUSED
        )
        assert paused.stopping_rule.toxicities == 2 and paused.evaluable == ("TF-301", "TF-302")
    finally:
        for journey in journeys:
            await journey.stop()


async def test_admissions_asked_together_are_decided_in_order_and_a_place_taken_is_gone_for_the_next(
    trial: Trial,
) -> None:
    identifier = f"T{uuid.uuid4().hex[:6].upper()}"
    small = await trial.env.client.start_workflow(
        TrialWorkflow.run,
        TrialInput(trial_identifier=identifier, accrual_target_infused=2),
        id=trial_workflow_id(identifier),
        task_queue=trial.task_queue,
    )
    try:
        batch = AdmissionBatch(study_ids=("TF-701", "TF-702", "TF-703", "TF-701"))
        answered = (await small.execute_update(TrialWorkflow.admit_all, batch)).results
        assert [(r.study_id, r.admitted) for r in answered] == [
            ("TF-701", True),
            ("TF-702", True),
            ("TF-703", False),
            ("TF-701", True),  # asked again: still admitted, no second place
        ]
        full = "the trial is full: 2 patients infused or in treatment for a target of 2 infused"
        assert answered[2].reasons == (full,)
        assert (await small.query(TrialWorkflow.status)).admitted == 2
        # One at a time, as before: the same decision.
        alone = await small.execute_update(TrialWorkflow.admit, AdmissionRequest(study_id="TF-704"))
        assert not alone.admitted and alone.reasons == answered[2].reasons
    finally:
        await settle_then_terminate(trial.env.client, small)
