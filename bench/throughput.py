"""Starts, recorded steps and queries for N workflows of one kind, on worker processes whose memory is read."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bench.cpu import CpuMeter, spent
from bench.load import Phase, bounded
from bench.step_events import SAMPLED_WORKFLOWS, StepEvents, step_events
from bench.subjects import Subject
from bench.worker_handle import WorkerProcesses, WorkerStats


@dataclass
class LoadResult:
    """One kind's run: the timed phases, which workflows failed, and the workers' memory before and after."""

    kind: str
    workflows: int
    starts: Phase = field(default_factory=lambda: Phase("starts"))
    # From the first start until every started workflow has done its first task (a journey: enrollment recorded).
    settle_seconds: float | None = None
    settled: bool = True
    updates: Phase = field(default_factory=lambda: Phase("updates"))
    queries: Phase = field(default_factory=lambda: Phase("queries"))
    failed: set[int] = field(default_factory=set)
    warm_up_failed: int = 0
    memory_before: WorkerStats | None = None
    memory_after: WorkerStats | None = None
    worker_log: dict[str, int] = field(default_factory=dict)
    step_events: StepEvents | None = None  # what a step left in the history of a few of the workflows

    @property
    def errors(self) -> int:
        return self.starts.failed + self.updates.failed + self.queries.failed + (0 if self.settled else 1)

    @property
    def settled_per_second(self) -> float | None:
        started = self.starts.succeeded
        return started / self.settle_seconds if self.settled and self.settle_seconds else None

    @property
    def kib_per_cached_workflow(self) -> float | None:
        before, after, cached = self.memory_before, self.memory_after, self._cached_added
        if before is None or after is None or not cached:
            return None
        return (after.rss_kib - before.rss_kib) / cached

    @property
    def heap_kib_per_cached_workflow(self) -> dict[str, float | None]:
        """What each allocator gained (bench/worker_heap.py) over the workflows added to the caches."""
        before, after, cached = self.memory_before, self.memory_after, self._cached_added
        if before is None or after is None or not cached:
            return {}
        gained: dict[str, float | None] = {}
        for part, now in after.heap_kib.items():
            then = before.heap_kib.get(part)
            gained[part] = None if now is None or then is None else (now - then) / cached
        return gained

    @property
    def _cached_added(self) -> int | None:
        before, after = self.memory_before, self.memory_after
        if before is None or after is None:
            return None
        if after.cached_workflows is not None and before.cached_workflows is not None:
            added = after.cached_workflows - before.cached_workflows
        else:
            added = self.workflows
        return added if added > 0 else None

    def summary(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "workflows": self.workflows,
            "failed_workflows": len(self.failed),
            "warm_up_failed": self.warm_up_failed,
            "starts": self.starts.summary(),
            "settle": {
                "seconds": self.settle_seconds,
                "settled": self.settled,
                "per_second": self.settled_per_second,
            },
            "updates": self.updates.summary(),
            "queries": self.queries.summary(),
            "memory_before": None if self.memory_before is None else vars(self.memory_before),
            "memory_after": None if self.memory_after is None else vars(self.memory_after),
            "kib_per_cached_workflow": self.kib_per_cached_workflow,
            "heap_kib_per_cached_workflow": self.heap_kib_per_cached_workflow,
            "worker_log_lines_by_level": self.worker_log,
            "step_events": None if self.step_events is None else self.step_events.summary(),
        }


async def drive(
    subject: Subject, numbers: Sequence[int], concurrency: int, result: LoadResult, meter: CpuMeter | None = None
) -> None:
    """Start every workflow, wait until their first tasks are done, walk each, then query each once; with a `meter`,
    the CPU each process spent is kept with each of the three phases."""

    def tracked(work: Callable[[int], Awaitable[object]]) -> Callable[[int], Awaitable[None]]:
        async def run(number: int) -> None:
            try:
                await work(number)
            except Exception:
                result.failed.add(number)
                raise

        return run

    async def metered(phase: Phase, work: Awaitable[object]) -> None:
        if meter is None:
            await work
            return
        before = meter.read()
        try:
            await work
        finally:
            phase.cpu = spent(before, meter.read())

    starting = tracked(lambda n: result.starts.timed(lambda: subject.start(n)))
    await metered(result.starts, bounded(numbers, starting, concurrency, result.starts))
    result.settled = await subject.settle([n for n in numbers if n not in result.failed])
    assert result.starts.started is not None
    result.settle_seconds = time.perf_counter() - result.starts.started
    walking = tracked(lambda n: subject.walk(n, result.updates))
    await metered(
        result.updates, bounded([n for n in numbers if n not in result.failed], walking, concurrency, result.updates)
    )
    querying = tracked(lambda n: result.queries.timed(lambda: subject.query(n)))
    await metered(
        result.queries, bounded([n for n in numbers if n not in result.failed], querying, concurrency, result.queries)
    )


async def measure_kind(
    workers: WorkerProcesses,
    subject: Subject,
    warm_up_subject: Subject,
    workflows: int,
    warm_up: int,
    concurrency: int,
    server_pid: int | None = None,
) -> LoadResult:
    """Warm the workers up (imports, sandbox, caches), read their memory, run the load (its CPU metered by process:
    the server at `server_pid`, the workers, this driver), read their memory again, then count what the steps of a
    few of the workflows left in their histories."""
    warm = LoadResult(kind=f"{subject.kind}-warm-up", workflows=warm_up)
    await drive(warm_up_subject, range(1, warm_up + 1), concurrency, warm)
    result = LoadResult(kind=subject.kind, workflows=workflows, warm_up_failed=len(warm.failed))
    result.memory_before = await workers.settled_stats()
    meter = CpuMeter.of(server_pid, [process.pid for process in workers.processes])
    await drive(subject, range(1, workflows + 1), concurrency, result, meter)
    result.memory_after = await workers.settled_stats()
    result.worker_log = workers.log_problems()
    walked = [n for n in range(1, workflows + 1) if n not in result.failed]
    if walked:
        sample = walked[:SAMPLED_WORKFLOWS]
        updates_each = round(result.updates.succeeded / len(walked))
        result.step_events = await step_events(subject.client, [subject.workflow_id(n) for n in sample], updates_each)
    return result
