"""The issue's acceptance on the time-skipping server, through the trial client and journeys that report on their
own: DLTs that cross the boundary pause enrollment (the next enrollment and a pending lymphodepletion refused with
the reason, the DSMB, the investigator and the supervisors told at once), the posterior is the domain's, a signed
DSMB decision resumes; a patient infused yesterday is not in the denominator until their DLT window ends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from config.journey_ids import journey_workflow_id, trial_workflow_id
from domain.journey import commands as cmd
from domain.journey.notifications import Notification, Topic, Urgency
from domain.protocol import PROTOCOL_V1
from domain.roles import Actor, Role
from domain.signature import SignatureMeaning, sign
from domain.site_time import site_date
from domain.statistics import evaluate_stopping_rule
from domain.trial.reports import DsmbDecision, DsmbOutcome
from domain.trial.state import Enrollment
from domain.trial.status import TrialStatus
from facade import TrialClient
from facade.errors import CommandRefused
from notifications import ChannelKind, Notifier
from records import EventStore
from records.deliveries import DeliveryLedger
from simulation.journey_steps import Milestone, PathPatient, Step, entered_late, send
from tests.domain.journey_driver import PHYSICIAN
from tests.facade.journeys import GRADE_3_CRS, RULES, enrollment, signed_record
from tests.notifications.people import webhook_directory
from tests.waiting import poll
from tests.workflows.journey_client import settle_then_terminate
from tests.workflows.test_reconciliation import RecordingChannel
from workers.time_skipping import server_time, skip_time
from workers.worker import journey_worker

DSMB = Actor(user_id="dsmb.chair", role=Role.DSMB)
WINDOW = timedelta(days=PROTOCOL_V1.stopping_rule.dlt_observation_window_days)


@dataclass
class Site:
    env: WorkflowEnvironment
    trial: TrialClient
    channel: RecordingChannel
    clock: Callable[[], datetime]  # the server's clock, as of the test's start, moving with the real one
    study_ids: list[str]

    async def walk(self, study_id: str, milestone: Milestone, infused_at: datetime) -> list[Step]:
        """Enrolled, then the shared path to `milestone` for an infusion at `infused_at`, every step entered now."""
        steps = entered_late(
            milestone, PathPatient(study_id=study_id), site_date(infused_at, RULES), PROTOCOL_V1, infused_at=infused_at
        )
        await self.trial.enroll(enrollment(study_id, site_date(steps[0].at, RULES)))
        self.study_ids.append(study_id)
        return steps

    async def infused(self, study_id: str, ago: timedelta, crs: bool = False) -> None:
        steps = await self.walk(study_id, Milestone.INFUSED, self.clock() - ago)
        await send(steps, partial(self.trial.record, study_id))
        if crs:
            assessment = cmd.AssessCrs(actor=PHYSICIAN, assessed_at=self.clock(), findings=GRADE_3_CRS)
            await signed_record(self.trial, study_id, assessment)

    async def status_when(self, what: str, check: Callable[[TrialStatus], bool]) -> TrialStatus:
        async def answer() -> TrialStatus | None:
            status = await self.trial.trial_status()
            return status if check(status) else None

        return await poll(answer, what)

    def told(self, topic: Topic) -> list[Notification]:
        return [n for n, _ in self.channel.sent if n.topic is topic]

    def decision(self, outcome: DsmbOutcome) -> DsmbDecision:
        now = self.clock()
        unsigned = DsmbDecision(
            decision_id=f"DSMB-{uuid.uuid4().hex[:8]}",
            actor=DSMB,
            outcome=outcome,
            decided_at=now,
            rationale="Both DLTs reviewed: expected CRS, managed per protocol; resume with weekly safety review.",
        )
        return sign(
            unsigned,
            signer_user_id=DSMB.user_id,
            printed_name="DSMB chair",
            signed_at=now,
            meaning=SignatureMeaning.APPROVAL,
        )


@pytest_asyncio.fixture
async def site(own_time_skipping_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Site]:
    """A worker and a trial client of their own queue and record (so their own TrialWorkflow), on the session's
    time-skipping server, its notifications recorded."""
    store = EventStore(f"sqlite:///{tmp_path / 'trial-record.db'}")
    store.migrate()
    channel = RecordingChannel()
    directory = webhook_directory(lambda role: f"https://hooks.example.org/{role.value}")
    notifier = Notifier(directory, DeliveryLedger(store.engine), {ChannelKind.WEBHOOK: channel})
    task_queue = f"gate-{uuid.uuid4()}"
    client = own_time_skipping_env.client
    # The shared server's clock has moved on from test to test: steps and signatures are dated by it.
    offset = await server_time(own_time_skipping_env) - datetime.now(UTC)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    trial = TrialClient(client, store, PROTOCOL_V1, task_queue=task_queue, clock=clock)
    running = Site(own_time_skipping_env, trial, channel, clock, [])
    try:
        async with journey_worker(client, store, task_queue=task_queue, notifier=notifier):
            try:
                yield running
            finally:
                # A workflow left waiting with no worker would hold the shared clock still.
                for study_id in running.study_ids:
                    await settle_then_terminate(client, client.get_workflow_handle(journey_workflow_id(study_id)))
                trial_id = trial_workflow_id(PROTOCOL_V1.accrual.trial_identifier, task_queue)
                await settle_then_terminate(client, client.get_workflow_handle(trial_id))
    finally:
        notifier.close()
        store.close()


async def test_dlts_across_the_boundary_pause_enrollment_and_lymphodepletion_until_the_signed_dsmb_decision(
    site: Site,
) -> None:
    trial = site.trial
    # TF-1561: its product released, its lymphodepletion not yet prescribed.
    *to_release, prescription = await site.walk("TF-1561", Milestone.PRESCRIBED, site.clock())
    await send(to_release, partial(trial.record, "TF-1561"))
    for study_id in ("TF-1562", "TF-1563"):
        await site.infused(study_id, ago=timedelta(hours=1), crs=True)

    paused = await site.status_when("paused by two DLTs", lambda s: s.enrollment is Enrollment.PAUSED)
    expected = evaluate_stopping_rule(2, 2, PROTOCOL_V1.stopping_rule)
    assert (paused.stopping_rule.toxicities, paused.stopping_rule.patients) == (2, 2)
    assert paused.stopping_rule.posterior_probability == expected.posterior_probability
    assert paused.evaluable == ("TF-1562", "TF-1563") and paused.more_dlts_to_pause == 0

    with pytest.raises(CommandRefused) as no_enrollment:
        await trial.enroll(enrollment("TF-1564", site_date(site.clock(), RULES)))
    assert "enrollment is paused by the safety stopping rule" in no_enrollment.value.reasons[0]
    with pytest.raises(CommandRefused) as no_lymphodepletion:
        await trial.record("TF-1561", prescription.command)
    assert "no new lymphodepletion until the DSMB decides" in no_lymphodepletion.value.reasons[0]

    async def all_told() -> list[Notification] | None:
        alerts = site.told(Topic.ENROLLMENT_PAUSED)
        return alerts if len(alerts) == 3 else None

    alerts = await poll(all_told, "the DSMB, the investigator and the supervisors told")
    assert sorted(a.role for a in alerts) == sorted([Role.DSMB, Role.INVESTIGATOR, Role.SUPERVISOR])
    assert {a.urgency for a in alerts} == {Urgency.IMMEDIATE}
    assert all(a.study_id == PROTOCOL_V1.accrual.trial_identifier for a in alerts)  # the trial's, no patient named

    resumed = await trial.dsmb_decision(site.decision(DsmbOutcome.RESUME))
    assert resumed.enrollment is Enrollment.OPEN and resumed.lymphodepletion_refused_because is None
    await trial.enroll(enrollment("TF-1564", site_date(site.clock(), RULES)))
    site.study_ids.append("TF-1564")
    await trial.record("TF-1561", prescription.command)


async def test_a_patient_infused_yesterday_counts_only_once_their_dlt_window_has_ended(site: Site) -> None:
    await site.infused("TF-1571", ago=timedelta(days=1))
    pending = await site.status_when("TF-1571 infused", lambda s: s.infused == 1)
    assert [p.study_id for p in pending.pending] == ["TF-1571"]
    assert (pending.evaluable, pending.stopping_rule.patients) == ((), 0)  # not in the denominator

    await skip_time(site.env, WINDOW - timedelta(days=2))
    still = await site.trial.trial_status()
    assert still.stopping_rule.patients == 0 and still.evaluable == ()
    await skip_time(site.env, timedelta(days=2))
    # The trial woke at the window's end on its own: nobody recorded anything.
    counted = await site.status_when("TF-1571 evaluable", lambda s: s.evaluable == ("TF-1571",))
    assert counted.pending == () and counted.stopping_rule.patients == 1
    expected = evaluate_stopping_rule(0, 1, PROTOCOL_V1.stopping_rule)
    assert counted.stopping_rule.posterior_probability == expected.posterior_probability
