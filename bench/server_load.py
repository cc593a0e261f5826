"""The dev-server part of the benchmark: one embedded server, the floor and the journeys measured on it in turn."""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench.enrollment_floor import measure_enrollment_floor
from bench.floor_messages import UpdateWork
from bench.journey_steps import carried_at_infusion, infusion_moment, rehearse
from bench.load import Phase
from bench.subjects import FloorSubject, JourneySubject
from bench.throughput import LoadResult, measure_kind
from bench.worker_handle import WorkerProcesses
from bench.worker_process import FLOOR, JOURNEY
from facade import TrialClient
from records import EventStore
from security import plain_data_converter
from workers.dev_server import DevServer, free_port

JOURNEY_PREFIX, JOURNEY_WARM_UP_PREFIX = "BN", "WARM"
SHARED_MEMORY = Path("/dev/shm")
CARRYING_FLOOR = "carrying-floor"  # the bare floor, each workflow holding a journey's carried state


@dataclass
class ServerLoadResults:
    updates_per_workflow: int
    concurrency: int
    floor: LoadResult
    journey: LoadResult
    activity_floor: LoadResult | None = None
    enrollment_floor: Phase | None = None  # bench/enrollment_floor.py
    workers: int = 1
    carrying_floor: LoadResult | None = None  # the floor holding a journey's carried state (its memory)


def server_directory() -> tempfile.TemporaryDirectory[str]:
    """The dev server's database in memory where the machine offers a RAM disk (as `--db-filename` needs a file)."""
    parent = SHARED_MEMORY if SHARED_MEMORY.is_dir() else None
    return tempfile.TemporaryDirectory(prefix="trialflow-bench-temporal-", dir=parent)


async def measure_on_dev_server(
    workflows: int,
    concurrency: int,
    warm_up: int,
    work_dir: Path,
    *,
    activity_floor: bool = False,
    workers: int = 1,
    floors: bool = True,
    journeys: bool = True,
) -> ServerLoadResults:
    """Floor first (unless not `floors`), then journeys, each on its own `workers` worker processes and task queue,
    against one dev server. Not `journeys`: the floor with an activity alone (its scale run)."""
    infused_at = infusion_moment()
    updates_per_workflow = rehearse(infused_at)
    record_url = f"sqlite:///{work_dir / 'trial-record.db'}"
    store = EventStore(record_url)
    store.migrate()
    try:
        with server_directory() as server_dir:
            async with DevServer(data_dir=Path(server_dir), port=free_port(), ui_port=free_port()) as server:
                client = await Client.connect(server.address, data_converter=plain_data_converter())

                async def floor_run(work: UpdateWork, carried: dict[str, Any] | None = None) -> LoadResult:
                    kind = FLOOR if work == "none" else f"{work.replace('_', '-')}-floor"
                    kind = CARRYING_FLOOR if carried is not None else kind
                    queue = f"bench-{kind}-{uuid.uuid4()}"
                    log = work_dir / f"{kind}-worker.log"
                    async with WorkerProcesses(FLOOR, server.address, queue, log, workers) as floor_workers:
                        result = await measure_kind(
                            floor_workers,
                            FloorSubject(client, queue, updates_per_workflow, kind, per_update=work, carried=carried),
                            FloorSubject(
                                client, queue, updates_per_workflow, f"{kind}-warm", per_update=work, carried=carried
                            ),
                            workflows,
                            warm_up,
                            concurrency,
                            server.pid,
                        )
                    result.kind = kind
                    return result

                not_measured = LoadResult(kind=f"{FLOOR} (not measured)", workflows=0)
                if not journeys:
                    journey = LoadResult(kind=f"{JOURNEY} (not measured)", workflows=0)
                    activity = await floor_run("activity")
                    return ServerLoadResults(
                        updates_per_workflow, concurrency, not_measured, journey, activity, None, workers
                    )
                if floors:
                    floor = await floor_run("none")
                    extra = await floor_run("activity") if activity_floor else None
                    carrying = await floor_run("none", journey_carried_state(infused_at)) if activity_floor else None
                    shaped = await measure_enrollment_floor(
                        client, server.address, work_dir, workflows, warm_up, concurrency, workers
                    )
                else:  # a scale run: the journeys alone, compared with the journeys of another N
                    floor, extra, shaped, carrying = not_measured, None, None, None

                queue = f"bench-journeys-{uuid.uuid4()}"
                # Every patient is infused: the trial must admit the whole load, not the protocol's 20.
                trial = TrialClient(client, store, task_queue=queue, accrual_target_infused=workflows + warm_up)
                async with WorkerProcesses(
                    JOURNEY, server.address, queue, work_dir / "journey-worker.log", workers, record_url
                ) as journey_workers:
                    journey = await measure_kind(
                        journey_workers,
                        JourneySubject(trial, infused_at, JOURNEY_PREFIX),
                        JourneySubject(trial, infused_at, JOURNEY_WARM_UP_PREFIX),
                        workflows,
                        warm_up,
                        concurrency,
                        server.pid,
                    )
    finally:
        store.close()
    return ServerLoadResults(updates_per_workflow, concurrency, floor, journey, extra, shaped, workers, carrying)


def journey_carried_state(infused_at: datetime) -> dict[str, Any]:
    """The JSON a journey on the benchmark's path carries into its run after infusion (about 27 KB)."""
    return carried_at_infusion(infused_at).model_dump(mode="json")
