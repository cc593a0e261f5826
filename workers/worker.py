"""The journey worker: PatientJourneyWorkflow and its activities on one task queue, with the pydantic converter.

`python -m workers` runs it against the configured Temporal until SIGTERM or Ctrl-C, then finishes its activities.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import PollerBehaviorAutoscaling, Worker

from activities.journey_activities import JourneyActivities
from activities.journey_stopping import JourneyStopping
from activities.reconciliation import ReconciliationActivities
from activities.record_checkpoint import CheckpointActivities
from activities.slot_booking import SlotBookingActivities
from activities.trial_reporting import TrialReporting
from config.journey_ids import TASK_QUEUE, trial_workflow_id
from config.production import check_production_settings
from config.settings import Settings, SettingsError
from config.settling import settle
from config.startup import load_checked_settings
from config.temporal_connection import connect
from domain.protocol import CURRENT_PROTOCOL
from domain.slots import SlotCapacity
from notifications.from_settings import check_notification_settings, notifier_from_settings
from notifications.notifier import Notifier
from observability.logging import configure_logging, get_logger
from records import EventStore
from records.deliveries import DeliveryLedger
from records.slot_bookings import SlotCalendar
from security import configured_data_converter, payload_keyring
from security.checkpoints import CheckpointLog
from security.client_seals import sealing_client
from security.configured_keys import checkpoint_log, seal_keyring
from security.keys import SealKeyring
from workers.command_seals import SealCheck
from workers.workflow_runner import workflow_runner
from workflows.patient_journey import PatientJourneyWorkflow
from workflows.reconciliation import ReconciliationWorkflow
from workflows.reconciliation_schedule import RECONCILIATION_SCHEDULE_ID, ensure_reconciliation_schedule
from workflows.trial_workflow import TrialWorkflow

log = get_logger("workers.worker")

ACTIVITY_THREADS = 16
# The worker takes an activity task only when one of those threads is free to run it. With the SDK's default of 100
# slots it took 84 more, which Temporal counts as started while they wait in the pool, unbeaten (they heartbeat once
# running): under load their 5 s heartbeat timeout ran out there and they were retried (N = 1,000,
# docs/performance.md, "Activity slots").
ACTIVITY_SLOTS = ACTIVITY_THREADS
# At a clean stop, an append or a delivery in hand may finish before it is cancelled (the record is written once
# either way; this spares a retry, and a cancellation raised into an activity's thread).
ACTIVITY_SHUTDOWN_GRACE = timedelta(seconds=10)
# A new journey's first workflow task comes through the task queue's normal (not sticky) queue, which the SDK's
# default of 5 pollers serves with one: enrollments waited there 1.7 s (p50) under load, admitted and started but
# not yet begun. Autoscaled pollers follow the backlog (Temporal's worker tuning; docs/performance.md, "Enrollment").
WORKFLOW_TASK_POLLERS = PollerBehaviorAutoscaling()
# Journeys a worker keeps in memory between their workflow tasks (the SDK's default, said here as a choice): about
# 0.6 MiB each (docs/performance.md), so 0.6 GiB a worker at most. A journey is busy for minutes around a step and
# then waits days for its next timer; the ones waiting are evicted first and, when they wake, replayed from their
# current run (continued as new at each milestone: under 1,500 events, a fraction of a second). 1,000 holds every
# journey a site runs many times over, and the working set of the 10,000-patient benchmark on two workers.
CACHED_JOURNEYS = 1_000


@asynccontextmanager
async def journey_worker(
    client: Client,
    store: EventStore,
    task_queue: str = TASK_QUEUE,
    *,
    notifier: Notifier | None = None,
    seal_keys: SealKeyring | None = None,
    checkpoints: CheckpointLog | None = None,
    slot_capacity: SlotCapacity | None = None,
) -> AsyncIterator[Worker]:
    """A running worker for journeys; shut down (activities finished) when the block ends.

    `notifier`: how staff are told (default: the log channel only); `run_worker` builds it from the settings.
    `seal_keys`: every staff command and enrollment must carry a valid seal (workers/command_seals.py); None: no
    seal is checked (development and tests that do not seal). `checkpoints`: where each reconciliation signs every
    patient's head (None: no checkpoint is written). `slot_capacity`: the site's slot calendar (default: the
    protocol's)."""
    activities = JourneyActivities(store, notifier)
    reconciliation = ReconciliationActivities(client, store)  # the timer safety net reads journeys and the record
    checkpointing = CheckpointActivities(client, store, checkpoints)
    # Journeys signal-with-start the TrialWorkflow: sealed, as the trial takes no report nobody sealed.
    sealing = sealing_client(client, seal_keys, _now) if seal_keys is not None else client
    trial_reporting = TrialReporting(sealing)
    stopping = JourneyStopping(sealing)  # the trial tells each journey the DSMB stopped it: a sealed update
    capacity = slot_capacity if slot_capacity is not None else SlotCapacity.of(CURRENT_PROTOCOL.manufacturing)
    slots = SlotBookingActivities(SlotCalendar(store.engine, capacity))
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[PatientJourneyWorkflow, ReconciliationWorkflow, TrialWorkflow],
            activities=[
                activities.append_events,
                activities.notify,
                activities.escalate_notification,
                reconciliation.journeys_to_reconcile,
                reconciliation.reconcile_journey,
                checkpointing.checkpoint_record,
                trial_reporting.report_to_trial,
                stopping.stop_journey,
                slots.book_slot,
                slots.end_manufacturing,
                slots.cancel_slots,
            ],
            activity_executor=executor,
            max_concurrent_activities=ACTIVITY_SLOTS,
            workflow_runner=workflow_runner(),  # the pure layers passed through, workflow code compiled once
            graceful_shutdown_timeout=ACTIVITY_SHUTDOWN_GRACE,
            workflow_task_poller_behavior=WORKFLOW_TASK_POLLERS,
            max_cached_workflows=CACHED_JOURNEYS,
            interceptors=[SealCheck(seal_keys)] if seal_keys is not None else [],
        )
        async with worker:
            try:
                yield worker
            finally:
                if task_queue != TASK_QUEUE:
                    await _end_scoped_trial(client, task_queue)


def _now() -> datetime:
    return datetime.now(UTC)


SCOPED_TRIAL_SETTLE = timedelta(seconds=30)


async def _end_scoped_trial(client: Client, task_queue: str) -> None:
    """A test's or demo's trial ends with its worker: left running, its next window timer would wait for a worker
    that is gone (on the time-skipping server, holding the clock of every later test)."""
    handle = client.get_workflow_handle(trial_workflow_id(CURRENT_PROTOCOL.accrual.trial_identifier, task_queue))
    try:
        with contextlib.suppress(TimeoutError):  # a delivery still retrying: stopped with the trial all the same
            await settle(client, handle.id, give_up_after=SCOPED_TRIAL_SETTLE)
        await handle.terminate("its worker stopped")
    except RPCError as error:
        if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise


async def run_worker(settings: Settings, stop: asyncio.Event, address: str | None = None) -> None:
    """Run until `stop` is set."""
    store = EventStore(settings.database_url)
    store.migrate()
    try:
        # The staff directory and channels first: a bad entry stops the start, naming every problem.
        notifier = notifier_from_settings(settings, DeliveryLedger(store.engine))
        seal_keys = seal_keyring(settings)
        if seal_keys is None:
            log.warning("commands_not_sealed", hint="no seal keys configured: any Temporal client may send commands")
        try:
            client = await connect(settings, configured_data_converter(settings), address)
            await _ensure_reconciliation(client)
            checkpoints = checkpoint_log(settings)
            if not checkpoints.signs:
                log.warning("checkpoints_not_signed", hint="no checkpoint key configured: no signed checkpoints")
            async with journey_worker(
                client,
                store,
                notifier=notifier,
                seal_keys=seal_keys,
                checkpoints=checkpoints,
                slot_capacity=settings.slot_capacity,
            ):
                log.info(
                    "worker started",
                    task_queue=TASK_QUEUE,
                    namespace=settings.temporal_namespace,
                    staff_directory=str(settings.staff_directory) if settings.staff_directory else None,
                )
                await stop.wait()
                log.info("worker stopping")
        finally:
            notifier.close()
    finally:
        store.close()


async def _ensure_reconciliation(client: Client) -> None:
    """The hourly safety net's schedule, at every start (`python -m workers` and `make run` both come here). A server
    that refuses it does not stop the journeys: the error says what is missing."""
    try:
        await ensure_reconciliation_schedule(client)
    except Exception as error:
        log.error("reconciliation schedule not ensured", schedule_id=RECONCILIATION_SCHEDULE_ID, error=str(error))


def main() -> int:
    try:
        # Before connecting: every bad setting, directory entry or key named.
        settings = load_checked_settings(
            check_notification_settings, payload_keyring, seal_keyring, checkpoint_log, check_production_settings
        )
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    configure_logging(settings.log_format, settings.log_level)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(serve())
    return 0
