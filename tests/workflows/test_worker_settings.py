"""The journey worker takes no more activity tasks than it has threads to run them.

Temporal counts an activity task as started once a worker has taken it. One taken beyond the free threads waits in
the pool without a heartbeat (an activity heartbeats once it runs), and under load its heartbeat timeout ran out
there: retried, with the warning "Activity not found on completion" (docs/performance.md, "Activity slots"). The
benchmark's floor worker is given the same settings, so that the two compare."""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.worker_process import floor_worker
from records import EventStore
from workers.worker import journey_worker


def _slots_and_threads(worker: Worker) -> tuple[int | None, int]:
    config = worker.config()
    return config.get("max_concurrent_activities"), config["activity_executor"]._max_workers  # type: ignore[attr-defined]


async def test_the_journey_worker_takes_an_activity_only_when_a_thread_is_free(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 'trial-record.db'}")
    store.migrate()
    try:
        async with journey_worker(time_skipping_env.client, store, task_queue=f"slots-{uuid.uuid4()}") as worker:
            slots, threads = _slots_and_threads(worker)
    finally:
        store.close()
    assert slots == threads


async def test_the_benchmark_floor_worker_has_the_journey_workers_activity_slots(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    async with floor_worker(time_skipping_env.client, f"floor-slots-{uuid.uuid4()}") as worker:
        slots, threads = _slots_and_threads(worker)
    assert slots == threads
