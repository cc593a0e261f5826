"""What the load is applied to: the floor workflow, or a patient's journey through the trial client facade.

Both answer the same four calls (start, settle, walk, query), so one driver measures them the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from temporalio.client import Client

from bench.floor_messages import FloorInput, FloorStep, UpdateWork
from bench.floor_workflow import FloorWorkflow
from bench.journey_steps import enrollment_for, study_id, walk_to_infusion
from bench.load import Phase
from config.journey_ids import journey_workflow_id
from domain.journey.commands import StaffCommand
from facade import TrialClient
from workflows.journey_messages import RecordResult

FLOOR_ID_PREFIX = "bench-floor-"
SETTLE_TIMEOUT_SECONDS = 600
SETTLE_POLL_SECONDS = 0.1


class Subject(Protocol):
    kind: str

    @property
    def client(self) -> Client: ...
    def workflow_id(self, number: int) -> str: ...

    async def start(self, number: int) -> None: ...
    async def settle(self, numbers: Sequence[int]) -> bool: ...
    async def walk(self, number: int, updates: Phase) -> None: ...
    async def query(self, number: int) -> None: ...


class FloorSubject:
    """The trivial workflow, given as many updates per workflow as a patient's path has."""

    kind = "floor"

    def __init__(
        self,
        client: Client,
        task_queue: str,
        updates_per_workflow: int,
        prefix: str,
        *,
        per_update: UpdateWork = "none",
        carried: dict[str, Any] | None = None,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._updates = updates_per_workflow
        self._per_update = per_update
        self._carried = carried
        self._prefix = f"{FLOOR_ID_PREFIX}{prefix.lower()}-"

    @property
    def client(self) -> Client:
        return self._client

    def workflow_id(self, number: int) -> str:
        return f"{self._prefix}{number:05d}"

    async def start(self, number: int) -> None:
        await self._client.start_workflow(
            FloorWorkflow.run,
            FloorInput(key=self.workflow_id(number), per_update=self._per_update, carried=self._carried),
            id=self.workflow_id(number),
            task_queue=self._task_queue,
        )

    async def settle(self, numbers: Sequence[int]) -> bool:
        return True  # its first task records nothing: there is nothing to wait for

    async def walk(self, number: int, updates: Phase) -> None:
        handle = self._client.get_workflow_handle_for(FloorWorkflow.run, self.workflow_id(number))
        for step in range(1, self._updates + 1):
            command = FloorStep(number=step)
            await updates.timed(lambda command=command: handle.execute_update(FloorWorkflow.step, command))  # type: ignore[misc]

    async def query(self, number: int) -> None:
        handle = self._client.get_workflow_handle_for(FloorWorkflow.run, self.workflow_id(number))
        await handle.query(FloorWorkflow.state)


class JourneySubject:
    """Patients enrolled, walked to infusion and asked for their status through the trial client facade."""

    kind = "journey"

    def __init__(self, trial: TrialClient, infused_at: datetime, prefix: str) -> None:
        self._trial = trial
        self._infused_at = infused_at
        self._prefix = prefix

    def _study_id(self, number: int) -> str:
        return study_id(number, self._prefix)

    @property
    def client(self) -> Client:
        return self._trial.temporal

    def workflow_id(self, number: int) -> str:
        return journey_workflow_id(self._study_id(number))

    async def start(self, number: int) -> None:
        await self._trial.enroll(enrollment_for(self._study_id(number), self._infused_at, self._trial.protocol))

    async def settle(self, numbers: Sequence[int]) -> bool:
        """Wait until every enrollment is in the trial record (the journey's first activity); False on timeout."""
        wanted = {self._study_id(n) for n in numbers}
        deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            recorded = set(await asyncio.to_thread(self._trial.store.study_ids))
            if wanted <= recorded:
                return True
            await asyncio.sleep(SETTLE_POLL_SECONDS)
        return False

    async def walk(self, number: int, updates: Phase) -> None:
        patient = self._study_id(number)

        async def record(command: StaffCommand) -> RecordResult:
            return await updates.timed(lambda: self._trial.record(patient, command))

        await walk_to_infusion(record, patient, self._infused_at, self._trial.protocol)

    async def query(self, number: int) -> None:
        await self._trial.status(self._study_id(number))
