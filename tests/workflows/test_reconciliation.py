"""The timer safety net on real servers: ReconciliationWorkflow on the time-skipping server finds journeys whose
workflow disagrees with the trial record and tells the supervisors once; agreeing journeys raise nothing. On a dev
server (the time-skipping one has no schedules), its Schedule is ensured once, runs it, and every worker start
ensures it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleHandle, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from config import search_attributes as sa
from config.journey_ids import TASK_QUEUE, journey_workflow_id
from config.settings import Settings
from domain.journey import commands as cmd
from domain.journey import decide, fold, initial_state
from domain.journey.notifications import Notification, Urgency
from domain.journey.phases import Phase
from domain.journey.reconciliation import MismatchKind
from domain.journey.views import patient_status
from domain.protocol import PROTOCOL_V1
from domain.roles import Role
from domain.site_time import site_moment
from notifications import ChannelKind, Notifier
from notifications.routing import PlannedDelivery
from records import EventStore
from records.deliveries import DeliveryLedger
from records.event_rows import to_event, to_row
from simulation.journey_steps import signed
from tests.domain.journey_driver import INVESTIGATOR, JourneyDriver
from tests.notifications.people import webhook_directory
from tests.waiting import poll
from tests.workflows.journey_client import JourneyClient, settle_then_terminate
from tests.workflows.lying_journey import FrozenJourneyWorkflow
from workers.dev_server import DevServer
from workers.time_skipping import server_time
from workers.worker import journey_worker, run_worker
from workflows.reconciliation import (
    RECONCILIATION_INTERVAL,
    ReconciliationInput,
    ReconciliationReport,
    ReconciliationWorkflow,
)
from workflows.reconciliation_schedule import RECONCILIATION_SCHEDULE_ID, ensure_reconciliation_schedule

RULES = PROTOCOL_V1.schedule
T = TypeVar("T")


class RecordingChannel:
    """A webhook channel that keeps what it is given: the notifier and its ledger in front of it are the real ones."""

    kind = ChannelKind.WEBHOOK

    def __init__(self) -> None:
        self.sent: list[tuple[Notification, str]] = []

    def send(self, notification: Notification, delivery: PlannedDelivery) -> None:
        self.sent.append((notification, delivery.target.staff_id))

    def alerts(self) -> list[Notification]:
        """What the reconciliation sent (the journeys' own notifications come through here too)."""
        return [n for n, _ in self.sent if "/reconciliation/" in n.key]


@dataclass
class Reconciling:
    env: WorkflowEnvironment
    store: EventStore
    channel: RecordingChannel
    task_queue: str
    frozen_task_queue: str
    handles: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    def journey(self, study_id: str) -> JourneyClient:
        journey = JourneyClient(self.env.client, self.task_queue, study_id, self.env)
        self.handles.append(journey.handle)
        return journey

    async def reconcile(self, *study_ids: str) -> ReconciliationReport:
        """One reconciliation run: of these patients, or of every unfinished one in the record."""
        return await self.env.client.execute_workflow(
            ReconciliationWorkflow.run,
            ReconciliationInput(study_ids=study_ids or None),
            id=f"reconciliation-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )


@pytest_asyncio.fixture
async def reconciling(own_time_skipping_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Reconciling]:
    """A journey worker on its own task queue and record, whose notifier delivers to a recording channel, and a
    worker for frozen journeys."""
    store = EventStore(f"sqlite:///{tmp_path / 'trial-record.db'}")
    store.migrate()
    channel = RecordingChannel()
    directory = webhook_directory(lambda role: f"https://hooks.example.org/{role.value}")
    notifier = Notifier(directory, DeliveryLedger(store.engine), {ChannelKind.WEBHOOK: channel})
    stack = Reconciling(
        env=own_time_skipping_env,
        store=store,
        channel=channel,
        task_queue=f"reconciling-{uuid.uuid4()}",
        frozen_task_queue=f"frozen-journeys-{uuid.uuid4()}",
    )
    client = own_time_skipping_env.client
    try:
        async with (
            journey_worker(client, store, task_queue=stack.task_queue, notifier=notifier),
            Worker(client, task_queue=stack.frozen_task_queue, workflows=[FrozenJourneyWorkflow]),
        ):
            try:
                yield stack
            finally:
                # A journey left waiting with no worker would hold the shared time-skipping clock still; so would
                # one stopped while its activities run (the test server keeps their hold on the clock).
                for handle in stack.handles:
                    await settle_then_terminate(client, handle)
    finally:
        store.close()


def record_directly(store: EventStore, study_id: str, command: cmd.StaffCommand, at: Any) -> int:
    """Append the event `command` makes to the record behind the workflow's back; returns its sequence."""
    state = fold(initial_state(study_id), [to_event(e) for e in store.events_for(study_id)])
    events = decide(state, signed(command, at), at, PROTOCOL_V1)
    store.append([to_row(e) for e in events])
    return events[-1].sequence


# ---------------------------------------------------------------- the time-skipping server


async def test_journeys_that_agree_with_the_record_raise_no_alert(reconciling: Reconciling) -> None:
    enrolled = reconciling.journey("TF-951")
    await enrolled.start()
    late = reconciling.journey("TF-952")
    await late.to_infusion()
    status = await late.status()
    infusion = next(item for item in status.due if item.code == "INFUSION")
    assert infusion.window_closes is not None
    await late.move_to(infusion.window_closes + timedelta(days=2))  # the window's timer fires: LATE-INFUSION overdue
    closed = await late.status()
    assert closed.overdue and any(item.code == "LATE-INFUSION" for item in closed.due)

    report = await reconciling.reconcile()  # every unfinished journey in the record

    assert report.journeys_checked == 2
    assert report.mismatches == () and report.alerted == ()
    assert reconciling.channel.alerts() == []


async def test_an_event_in_the_record_the_workflow_never_applied_alerts_supervisors_once(
    reconciling: Reconciling,
) -> None:
    journey = reconciling.journey("TF-953")
    await journey.start()
    await journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))
    today = await journey.today()
    consent = cmd.RecordConsent(
        actor=INVESTIGATOR,
        guardian_consent_signed_on=today,
        consent_form_version="ICF v2.1",
        child_assent_obtained=True,
    )
    stray = record_directly(reconciling.store, "TF-953", consent, await journey.now())

    first = await reconciling.reconcile("TF-953")
    second = await reconciling.reconcile("TF-953")

    [found] = first.mismatches
    assert found.kind is MismatchKind.RECORD_AHEAD and found.study_id == "TF-953"
    assert f"events {stray} to {stray}" in found.detail
    assert second.mismatches == first.mismatches and second.alerted == first.alerted == (found.key,)
    # Handed to the notifier on both runs, delivered once: the key is the same, and the ledger has it as sent.
    [alert] = reconciling.channel.alerts()
    assert alert.role is Role.SUPERVISOR and alert.key == found.key and alert.study_id == "TF-953"
    assert found.detail in alert.body


async def test_a_journey_whose_timer_never_fired_alerts_supervisors_at_once(reconciling: Reconciling) -> None:
    """The record of a journey to the end of lymphodepletion, two months ago; its workflow still shows what it
    showed then (its infusion-window timer never fired, as in the server bug this net is for)."""
    server_now = await server_time(reconciling.env)
    journey = JourneyDriver("TF-954")
    journey.now = server_now - timedelta(days=60)
    journey.enroll(screening_date=journey.today, date_of_birth=journey.today - timedelta(days=9 * 365 + 30))
    journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))
    journey.do(
        cmd.RecordConsent(
            actor=INVESTIGATOR,
            guardian_consent_signed_on=journey.today,
            consent_form_version="ICF v2.1",
            child_assent_obtained=True,
        )
    )
    journey.collect()
    journey.release()
    journey.prescribe()
    journey.give_lymphodepletion()
    assert journey.state.phase is Phase.INFUSION
    reconciling.store.append([to_row(e) for e in journey.events])
    frozen = patient_status(journey.state, PROTOCOL_V1, journey.now)
    assert frozen.next_due is not None and frozen.next_due.due_on is not None
    handle = await reconciling.env.client.start_workflow(
        FrozenJourneyWorkflow.run,
        frozen,
        id=journey_workflow_id("TF-954"),
        task_queue=reconciling.frozen_task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.TRIAL_PHASE, frozen.phase.value),
                SearchAttributePair(sa.OVERDUE, frozen.overdue),
                SearchAttributePair(sa.NEXT_DUE_DATE, site_moment(frozen.next_due.due_on, 0, RULES)),
            ]
        ),
    )
    reconciling.handles.append(handle)

    report = await reconciling.reconcile("TF-954")

    [found] = report.mismatches
    assert found.kind is MismatchKind.TIMER_NOT_FIRED and "expire infusion window" in found.detail
    [alert] = reconciling.channel.alerts()
    assert alert.role is Role.SUPERVISOR and alert.key == found.key and alert.urgency is Urgency.IMMEDIATE
    assert alert.subject == "TF-954: the journey disagrees with the trial record (timer not fired)"


async def test_a_journey_whose_workflow_was_stopped_alerts_supervisors(reconciling: Reconciling) -> None:
    journey = reconciling.journey("TF-955")
    await journey.start()
    await journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))  # answered once enrollment is in the record
    await settle_then_terminate(reconciling.env.client, journey.handle)

    report = await reconciling.reconcile()

    [found] = report.mismatches
    assert found.kind is MismatchKind.WORKFLOW_NOT_RUNNING and "terminated" in found.detail
    assert [(n.role, n.key) for n in reconciling.channel.alerts()] == [(Role.SUPERVISOR, found.key)]


# ---------------------------------------------------------------- a dev server: the schedule


@dataclass(frozen=True)
class DevStack:
    server: DevServer
    client: Client
    store: EventStore
    task_queue: str
    data_dir: Path


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevStack]:
    data_dir = tmp_path_factory.mktemp("reconciliation-dev-server")
    server = DevServer(data_dir=data_dir, pick_free_ports=True)
    store = EventStore(f"sqlite:///{data_dir / 'trial-record.db'}")
    store.migrate()
    try:
        async with server:
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            task_queue = f"journeys-{uuid.uuid4()}"
            async with journey_worker(client, store, task_queue=task_queue):
                yield DevStack(server=server, client=client, store=store, task_queue=task_queue, data_dir=data_dir)
    finally:
        store.close()


async def no_schedule(client: Client) -> None:
    try:
        await client.get_schedule_handle(RECONCILIATION_SCHEDULE_ID).delete()
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise


async def test_ensure_creates_the_hourly_schedule_once_and_keeps_what_an_operator_set(dev_stack: DevStack) -> None:
    client = dev_stack.client
    await no_schedule(client)

    handle = await ensure_reconciliation_schedule(client)
    created = await handle.describe()
    again = await ensure_reconciliation_schedule(client)
    unchanged = await again.describe()

    action = created.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "ReconciliationWorkflow" and action.task_queue == TASK_QUEUE
    assert [i.every for i in created.schedule.spec.intervals] == [RECONCILIATION_INTERVAL]
    assert again.id == handle.id == RECONCILIATION_SCHEDULE_ID
    assert unchanged.info.last_updated_at == created.info.last_updated_at  # the second call changed nothing

    # An operator pauses it; a worker built for another task queue brings it up to date but leaves it paused.
    await handle.pause(note="paused for maintenance")
    await ensure_reconciliation_schedule(client, task_queue=dev_stack.task_queue)
    updated = await handle.describe()
    moved = updated.schedule.action
    assert isinstance(moved, ScheduleActionStartWorkflow) and moved.task_queue == dev_stack.task_queue
    assert updated.schedule.state.paused and updated.schedule.state.note == "paused for maintenance"
    await no_schedule(client)


async def test_the_schedule_starts_a_reconciliation_that_checks_every_unfinished_journey(dev_stack: DevStack) -> None:
    client = dev_stack.client
    await no_schedule(client)
    journey = JourneyClient(client, dev_stack.task_queue, "TF-956")
    await journey.start()
    await journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))
    schedule: ScheduleHandle = await ensure_reconciliation_schedule(client, task_queue=dev_stack.task_queue)

    await schedule.trigger()

    async def started() -> str | None:
        actions = (await schedule.describe()).info.recent_actions
        return actions[0].action.workflow_id if actions else None

    run_id = await poll(started, "the schedule's reconciliation run")
    report = await client.get_workflow_handle(run_id, result_type=ReconciliationReport).result()
    assert report.journeys_checked == 1 and report.mismatches == ()
    await settle_then_terminate(client, journey.handle)
    await no_schedule(client)


async def test_every_worker_start_ensures_the_schedule(dev_stack: DevStack, tmp_path: Path) -> None:
    client = dev_stack.client
    await no_schedule(client)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'trial-record.db'}",
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop, address=dev_stack.server.address))

    async def ensured() -> bool | None:
        if worker.done():
            worker.result()  # the worker's own error, if it stopped
        try:
            await client.get_schedule_handle(RECONCILIATION_SCHEDULE_ID).describe()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        return True

    try:
        assert await poll(ensured, "the schedule, after the worker started")
    finally:
        stop.set()
        await worker
    await no_schedule(client)
