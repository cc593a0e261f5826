"""The floor of an enrollment's shape: what Temporal alone charges for the promises an enrollment keeps.

An enrollment asks the one TrialWorkflow for admission (an update on one workflow, at most
`facade.trial_gate.ADMISSIONS_IN_FLIGHT` at once), starts the journey, and answers only once the journey's first
activity (the append to the trial record) has completed. The floor does the same with nothing of its own: a no-op
update on one floor workflow, a start, a no-op first activity, awaited in the history as the trial client awaits
the append. The enrollment's distance to this floor is the journey's own; this floor's distance to the bare starts
is Temporal's price for those promises.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHandle

from bench.floor_messages import FloorInput, FloorState, FloorStep, UpdateWork
from bench.floor_workflow import FLOOR_ACTIVITY, FloorWorkflow
from bench.load import Phase, bounded
from bench.worker_handle import WorkerProcesses
from bench.worker_process import FLOOR
from facade.enrollment_taken import completed_or_ended
from facade.trial_gate import ADMISSIONS_IN_FLIGHT

KIND = "enrollment-floor"


@dataclass(frozen=True)
class FloorGate:
    """The admissions floor workflow and the bound on admissions in flight, as the trial gate has."""

    admissions: WorkflowHandle[FloorWorkflow, FloorState]
    in_flight: asyncio.Semaphore


async def open_floor_gate(client: Client, queue: str, kind: str) -> FloorGate:
    """A new admissions floor workflow on `queue`, behind the trial gate's bound on admissions in flight."""
    admissions_id = f"bench-{kind}-admissions-{uuid.uuid4()}"
    admissions = await client.start_workflow(
        FloorWorkflow.run, FloorInput(key=admissions_id), id=admissions_id, task_queue=queue
    )
    return FloorGate(admissions, asyncio.Semaphore(ADMISSIONS_IN_FLIGHT))


async def enroll_floor(
    client: Client, gate: FloorGate, key: str, queue: str, number: int, per_update: UpdateWork = "none"
) -> WorkflowHandle[FloorWorkflow, FloorState]:
    """One enrollment's floor: admitted (a no-op update), started, answered once its first no-op activity is in the
    history. `per_update`: what the started floor's later updates wait for."""
    async with gate.in_flight:
        await gate.admissions.execute_update(FloorWorkflow.step, FloorStep(number=number))
    handle = await client.start_workflow(
        FloorWorkflow.run, FloorInput(key=key, per_update=per_update, first_activity=True), id=key, task_queue=queue
    )
    ended = await completed_or_ended(client, handle, FLOOR_ACTIVITY)
    if ended is not None:
        raise RuntimeError(f"the floor {key} ended ({ended.name}) before its first activity completed")
    return handle


async def measure_enrollment_floor(
    client: Client, address: str, work_dir: Path, workflows: int, warm_up: int, concurrency: int, workers: int = 1
) -> Phase:
    """`workflows` enrollment-shaped floors after `warm_up` of them, at most `concurrency` in flight, on `workers`
    worker processes: the timed phase (each from its admission to its first activity's completion)."""
    queue = f"bench-{KIND}-{uuid.uuid4()}"
    async with WorkerProcesses(FLOOR, address, queue, work_dir / f"{KIND}-worker.log", workers):
        gate = await open_floor_gate(client, queue, KIND)

        async def enroll(number: int, prefix: str) -> None:
            await enroll_floor(client, gate, f"bench-{KIND}-{prefix}-{number:05d}", queue, number)

        warm = Phase("warm-up")
        await bounded(range(1, warm_up + 1), lambda n: warm.timed(lambda: enroll(n, "warm")), concurrency, warm)
        starts = Phase("starts")
        await bounded(range(1, workflows + 1), lambda n: starts.timed(lambda: enroll(n, "load")), concurrency, starts)
    return starts
