"""The trial record's database unavailable for a while under a running worker process: the command waits (the
workflow records before it moves on), the append is retried (RECORD_RETRY) until the database is back, then it is
written once, the command is answered, and the journey goes on.

PostgreSQL is stopped and started again (every append attempt fails meanwhile); SQLite is held locked by another
writer (each append waits on the busy timeout).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.engine import URL
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflow.v1 import PendingActivityInfo

from domain.journey.phases import Phase
from tests.facade.journeys import to_apheresis
from tests.reliability.histories import append_of, pending_activity
from tests.reliability.patients import apheresis, release_product, site_today
from tests.reliability.postgres_outage import PausablePostgres
from tests.reliability.record_checks import assert_nothing_lost_or_duplicated
from tests.reliability.record_locks import sqlite_write_lock
from tests.reliability.stack import FaultStack, fault_stack
from tests.waiting import eventually

SCREENED_ON = site_today() - timedelta(days=30)
# RECORD_RETRY waits 1, 2, 4, 8 ... s (at most a minute) between attempts: the command is answered within one
# interval of the database's return. Two minutes bounds a hang; it is not a claim about speed.
ANSWERED_AFTER_RECOVERY_WITHIN_SECONDS = 120.0
FAILED_ATTEMPTS_SEEN = 3  # attempts seen failing before the database comes back


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory, record_database: URL) -> AsyncIterator[FaultStack]:
    async with fault_stack(tmp_path_factory.mktemp("record-postgres"), record_database) as stack:
        yield stack


async def test_postgres_stopped_then_started_again_appends_retry_and_nothing_is_lost_or_doubled(
    stack: FaultStack, pausable_postgres: PausablePostgres
) -> None:
    worker = stack.worker("worker")
    await worker.start()
    await to_apheresis(stack.trial, "DB-401", SCREENED_ON)
    recorded_before = await asyncio.to_thread(stack.store.last_sequence, "DB-401")

    pausable_postgres.pause()
    paused_at = time.monotonic()
    try:
        command = asyncio.create_task(stack.trial.record("DB-401", apheresis(SCREENED_ON + timedelta(days=1))))

        async def retrying() -> PendingActivityInfo:
            append = await pending_activity(stack.temporal, "DB-401", "append_events")
            assert append.attempt > FAILED_ATTEMPTS_SEEN, append
            return append

        await eventually(retrying, "the append retried while the database is away")
        # The command is not answered and the journey has not moved: the workflow records before it moves on.
        assert not command.done()
        status = await stack.trial.status("DB-401")
        assert (status.phase, status.last_sequence) == (Phase.APHERESIS, recorded_before)
    finally:
        pausable_postgres.resume()
        resumed_at = time.monotonic()

    result = await asyncio.wait_for(command, timeout=ANSWERED_AFTER_RECOVERY_WITHIN_SECONDS)
    [collected] = result.events
    assert collected.type == "apheresis_collected"
    run = await append_of(stack.temporal, "DB-401", collected.sequence)
    assert run.completed and run.attempts > FAILED_ATTEMPTS_SEEN, run
    written = run.append_result()
    assert (written.recorded, written.already_recorded) == (1, 0)
    # Each failed attempt failed for the outage: the worker logged its kind, Temporal kept the plain reason.
    failures = [line["error"] for line in worker.log_lines() if line.get("event") == "trial record unavailable"]
    assert failures == ["OperationalError"] * (run.attempts - 1), failures
    assert run.last_failure == "the trial record is unavailable (OperationalError); retrying", run
    print(
        f"DB-401: PostgreSQL away {resumed_at - paused_at:.1f} s; the command answered "
        f"{time.monotonic() - resumed_at:.1f} s after its return; {run.attempts} append attempts; "
        f"Temporal's last failure: {run.last_failure!r}"
    )
    await assert_nothing_lost_or_duplicated(stack.temporal, stack.store, "DB-401", stack.trial.accepted["DB-401"])
    await release_product(stack.trial, "DB-401", SCREENED_ON + timedelta(days=20))
    await assert_nothing_lost_or_duplicated(stack.temporal, stack.store, "DB-401", stack.trial.accepted["DB-401"])
    assert await worker.stop() == 0


async def test_sqlite_locked_by_another_writer_the_command_waits_then_is_recorded_once(tmp_path: Path) -> None:
    async with fault_stack(tmp_path / "record-sqlite") as stack:
        worker = stack.worker("worker")
        await worker.start()
        await to_apheresis(stack.trial, "DB-402", SCREENED_ON)
        recorded_before = await asyncio.to_thread(stack.store.last_sequence, "DB-402")

        with sqlite_write_lock(stack.data_dir / "trial-record.db"):
            command = asyncio.create_task(stack.trial.record("DB-402", apheresis(SCREENED_ON + timedelta(days=1))))

            async def waiting() -> None:
                append = await pending_activity(stack.temporal, "DB-402", "append_events")
                assert append.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED, append

            await eventually(waiting, "the append running, waiting for the lock")
            await asyncio.sleep(3)  # the outage lasts a while (shorter than the 30 s busy timeout)
            assert not command.done()
            assert (await stack.trial.status("DB-402")).last_sequence == recorded_before

        result = await asyncio.wait_for(command, timeout=ANSWERED_AFTER_RECOVERY_WITHIN_SECONDS)
        [collected] = result.events
        run = await append_of(stack.temporal, "DB-402", collected.sequence)
        written = run.append_result()
        assert (written.recorded, written.already_recorded) == (1, 0)
        print(f"DB-402: the append took {run.attempts} attempt(s)")
        await assert_nothing_lost_or_duplicated(stack.temporal, stack.store, "DB-402", stack.trial.accepted["DB-402"])
        await release_product(stack.trial, "DB-402", SCREENED_ON + timedelta(days=20))
        await assert_nothing_lost_or_duplicated(stack.temporal, stack.store, "DB-402", stack.trial.accepted["DB-402"])
        assert await worker.stop() == 0
