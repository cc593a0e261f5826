"""The cohort's floor: the calls `trial-demo`'s drive made to the trial, made again to floor workflows on a
time-skipping server of their own, in one process as the demo runs. The same enrollments (each shaped as an
enrollment: bench/enrollment_floor.py), the same steps and status queries at the same server moments (a step an
update waiting for one no-op activity, as a recorded step waits for its append), the clock skipped from moment to
moment as the demo skips it. What the journeys add (their timers, a second activity at most steps, their own code)
is the cohort's distance to it; what the floor itself takes is the SDK's and the test server's."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle

from bench.enrollment_floor import FloorGate, enroll_floor, open_floor_gate
from bench.floor_messages import FloorState, FloorStep
from bench.floor_workflow import FloorWorkflow
from bench.worker_process import floor_worker
from config.settling import settle
from simulation.demo import DrivenStep
from simulation.server_clock import ServerClock
from workers.time_skipping import quiet_runtime, server_time, start_time_skipping

KIND = "cohort-floor"


@dataclass
class TimedCalls:
    """Calls to a trial as each begins, and the wall clock from the first to the last: a cohort's drive and its
    floor's are timed alike."""

    calls: list[DrivenStep] = field(default_factory=list)
    first_began: float | None = None
    last_began: float | None = None

    def __call__(self, step: DrivenStep) -> None:
        now = time.perf_counter()
        if self.first_began is None:
            self.first_began = now
        self.last_began = now
        self.calls.append(step)

    @property
    def seconds(self) -> float:
        if self.first_began is None or self.last_began is None:
            return 0.0
        return self.last_began - self.first_began

    @property
    def moments(self) -> int:
        return len({call.at for call in self.calls})


@dataclass(frozen=True)
class CohortFloor:
    timed: TimedCalls
    steps_taken: dict[str, int]  # each floor's updates, read at the end: each patient's steps, and none lost
    clock_moved: timedelta  # the server's clock from the floor's start to its end

    @property
    def seconds(self) -> float:
        return self.timed.seconds


async def drive_cohort_floor(calls: Sequence[DrivenStep]) -> CohortFloor:
    """`calls` (in the order the demo began them, its server time never going back) made to floor workflows:
    moment by moment, each patient's calls of a moment in order, the patients of a moment together."""
    timed = TimedCalls()
    if not calls:
        return CohortFloor(timed, {}, timedelta(0))
    env = await start_time_skipping(runtime=quiet_runtime())
    async with env:
        client = env.client
        queue = f"bench-{KIND}-{uuid.uuid4()}"
        async with floor_worker(client, queue):
            floor = _FloorTrial(client, queue, await open_floor_gate(client, queue, KIND), timed)
            started_at = await server_time(env)
            clock = ServerClock(env, started_at)
            # The demo's moments, kept apart as they were, from a day after this server's start.
            shift = clock.now + timedelta(days=1) - calls[0].at
            for at, of_the_moment in itertools.groupby(calls, key=lambda call: call.at):
                await clock.move_to(at + shift)
                by_patient: dict[str, list[DrivenStep]] = {}
                for call in of_the_moment:
                    by_patient.setdefault(call.study_id, []).append(call)
                await asyncio.gather(*(floor.make(patient_calls) for patient_calls in by_patient.values()))
            steps_taken = {study_id: await floor.steps_taken(study_id) for study_id in floor.patients}
            clock_moved = await server_time(env) - started_at
    return CohortFloor(timed, steps_taken, clock_moved)


@dataclass
class _FloorTrial:
    client: Client
    queue: str
    gate: FloorGate
    timed: TimedCalls
    patients: dict[str, WorkflowHandle[FloorWorkflow, FloorState]] = field(default_factory=dict)
    calls_made: int = 0

    async def make(self, calls: list[DrivenStep]) -> None:
        for call in calls:
            self.timed(call)
            await self._call(call)

    async def _call(self, call: DrivenStep) -> None:
        self.calls_made += 1
        if call.call == "enroll":
            self.patients[call.study_id] = await enroll_floor(
                self.client, self.gate, _floor_id(call.study_id), self.queue, self.calls_made, per_update="activity"
            )
        elif call.call == "record":
            await self.patients[call.study_id].execute_update(FloorWorkflow.step, FloorStep(number=self.calls_made))
        else:
            await self._state(call.study_id)

    async def _state(self, study_id: str) -> FloorState:
        await settle(self.client, _floor_id(study_id))  # as the demo asks a status: nothing in flight
        return await self.patients[study_id].query(FloorWorkflow.state)

    async def steps_taken(self, study_id: str) -> int:
        return (await self._state(study_id)).steps_taken


def _floor_id(study_id: str) -> str:
    return f"bench-{KIND}-{study_id}"
