"""History size and replay cost, from the recorded journeys in tests/histories (a file per run of one patient):
the full journey to year 15, and its runs within five years of enrollment. Sizes are serialized protobuf events, as
Temporal counts them."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from bench.floor_messages import FloorInput, FloorStep
from bench.floor_workflow import FloorWorkflow
from bench.worker_process import floor_worker
from security import plain_data_converter
from workers.time_skipping import start_time_skipping
from workers.workflow_runner import workflow_runner
from workflows.patient_journey import PatientJourneyWorkflow

HISTORIES_DIR = Path(__file__).resolve().parent.parent / "tests" / "histories"
TRIAL_HISTORIES = "trial-"  # tests/histories' files of the TrialWorkflow
FULL_JOURNEY = "full-journey"  # tests/histories/generate.py: enrollment to completion at year 15
FIVE_YEARS = timedelta(days=5 * 365.25)
REPLAY_REPETITIONS = 7


class HistoriesError(RuntimeError):
    """The recorded histories are missing or not what the benchmark expects."""


@dataclass(frozen=True)
class RecordedRun:
    path: Path
    history: WorkflowHistory

    @property
    def events(self) -> int:
        return len(self.history.events)

    @property
    def protobuf_bytes(self) -> int:
        return sum(event.ByteSize() for event in self.history.events)

    @property
    def json_bytes(self) -> int:
        return self.path.stat().st_size

    @property
    def started_at(self) -> timedelta:
        first = self.history.events[0].event_time
        return timedelta(seconds=first.seconds, microseconds=first.nanos // 1000)

    @property
    def ended_at(self) -> timedelta:
        last = self.history.events[-1].event_time
        return timedelta(seconds=last.seconds, microseconds=last.nanos // 1000)


def load_runs(scenario: str | None = None, directory: Path = HISTORIES_DIR) -> list[RecordedRun]:
    pattern = f"{scenario}-run*.json" if scenario else "*-run*.json"
    runs = []
    for path in sorted(directory.glob(pattern)):
        if path.name.startswith(TRIAL_HISTORIES):
            continue  # the trial's own histories: the journeys' figures are the journeys'
        workflow_id = f"bench-replay-{path.stem}"  # the replayer does not check it against the history
        runs.append(RecordedRun(path, WorkflowHistory.from_json(workflow_id, path.read_text())))
    if not runs:
        raise HistoriesError(f"no recorded histories {pattern} in {directory}")
    return runs


@dataclass(frozen=True)
class Journey:
    """Consecutive runs of one patient, and what they add up to."""

    runs: tuple[RecordedRun, ...]

    @property
    def events(self) -> int:
        return sum(r.events for r in self.runs)

    @property
    def protobuf_bytes(self) -> int:
        return sum(r.protobuf_bytes for r in self.runs)

    @property
    def json_bytes(self) -> int:
        return sum(r.json_bytes for r in self.runs)

    @property
    def years(self) -> float:
        return (self.runs[-1].ended_at - self.runs[0].started_at).days / 365.25

    @property
    def names(self) -> list[str]:
        return [r.path.name for r in self.runs]


def full_journey(directory: Path = HISTORIES_DIR) -> Journey:
    return Journey(tuple(load_runs(FULL_JOURNEY, directory)))


def first_years(journey: Journey, span: timedelta = FIVE_YEARS) -> Journey:
    """The runs that begin within `span` of enrollment: the journey up to and including the run holding its end."""
    enrolled = journey.runs[0].started_at
    return Journey(tuple(r for r in journey.runs if r.started_at - enrolled < span))


def largest_run(directory: Path = HISTORIES_DIR) -> RecordedRun:
    return max(load_runs(directory=directory), key=lambda r: (r.events, r.protobuf_bytes))


@dataclass(frozen=True)
class ReplayTiming:
    median_ms: float
    samples_ms: tuple[float, ...]
    failures: tuple[str, ...]


async def time_replay(
    histories: list[WorkflowHistory],
    repetitions: int = REPLAY_REPETITIONS,
    workflow: type = PatientJourneyWorkflow,
) -> ReplayTiming:
    """Replay `histories` one after another on the current `workflow` code, `repetitions` times after one warm-up.

    The warm-up pays the sandbox's first import of the workflow module; a worker picking a patient up after a
    crash has paid it already. A run that no longer replays is reported, never hidden.
    """
    # The journey worker's runner, as a worker replaying a patient has it (the floor's worker keeps the SDK's).
    runner = workflow_runner() if workflow is PatientJourneyWorkflow else SandboxedWorkflowRunner()
    replayer = Replayer(workflows=[workflow], data_converter=plain_data_converter(), workflow_runner=runner)

    async def in_order() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    warm_up = await replayer.replay_workflows(in_order(), raise_on_replay_failure=False)
    failures = tuple(f"{run_id}: {error}" for run_id, error in warm_up.replay_failures.items())
    samples = []
    for _ in range(repetitions):
        began = time.perf_counter()
        await replayer.replay_workflows(in_order(), raise_on_replay_failure=False)
        samples.append((time.perf_counter() - began) * 1000)
    return ReplayTiming(statistics.median(samples), tuple(round(s, 2) for s in samples), failures)


def workflow_tasks(runs: tuple[RecordedRun, ...]) -> int:
    """How many workflow tasks the runs hold: what a replay activates the workflow code for."""
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    return sum(1 for run in runs for event in run.history.events if event.event_type == completed)


async def floor_history(tasks: int) -> WorkflowHistory:
    """The floor workflow's history with about `tasks` workflow tasks: updates that each wait for a no-op activity
    (two tasks: the update, the activity's result), recorded on a time-skipping server."""
    env = await start_time_skipping()
    async with env:
        task_queue = f"bench-replay-floor-{uuid.uuid4()}"
        async with floor_worker(env.client, task_queue):
            handle = await env.client.start_workflow(
                FloorWorkflow.run,
                FloorInput(key="replay-floor", per_update="activity"),
                id=f"bench-replay-floor-{uuid.uuid4()}",
                task_queue=task_queue,
            )
            for number in range(1, max(1, tasks // 2) + 1):
                await handle.execute_update(FloorWorkflow.step, FloorStep(number=number))
            return await handle.fetch_history()
