"""A worker in its own process, so its memory can be read from /proc alone: `python -m bench.worker_process`.

It prints one JSON line when it is polling (`{"event": "ready", ...}`), answers `stats` on stdin with the number
of workflows in its cache, and shuts down cleanly at `stop` or at the end of its input.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import os
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from temporalio.client import Client
from temporalio.worker import PollerBehavior, PollerBehaviorSimpleMaximum, Worker

from bench.floor_workflow import FloorWorkflow, floor_noop
from bench.worker_heap import heap_kib
from config.process_exit import exit_without_finalizing
from observability.logging import configure_logging
from records import EventStore
from security import plain_data_converter
from workers import worker as journey_workers

FLOOR, JOURNEY = "floor", "journey"
# The journey worker's activity pool; the floor gets the same (the constant may move: read it where it lives).
ACTIVITY_THREADS: int = getattr(journey_workers, "ACTIVITY_THREADS", 16)
# And its activity slots (the SDK's default, 100, where the journey worker sets none).
ACTIVITY_SLOTS: int = getattr(journey_workers, "ACTIVITY_SLOTS", 100)
# And its workflow-task pollers (the SDK's default where the journey worker sets none).
WORKFLOW_TASK_POLLERS: PollerBehavior = getattr(
    journey_workers, "WORKFLOW_TASK_POLLERS", PollerBehaviorSimpleMaximum(maximum=5)
)
# And its cache size (the SDK's default, 1,000, where the journey worker sets none).
CACHED_JOURNEYS: int = getattr(journey_workers, "CACHED_JOURNEYS", 1_000)


class WorkerSetupError(RuntimeError):
    """The journey worker's signature asks for something the benchmark cannot supply."""


@asynccontextmanager
async def floor_worker(client: Client, task_queue: str) -> AsyncIterator[Worker]:
    """The floor's worker with the journey worker's settings: its thread pool and slots for activities, its
    workflow-task pollers, its cache size, the SDK's defaults otherwise."""
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[FloorWorkflow],
            activities=[floor_noop],
            activity_executor=executor,
            max_concurrent_activities=ACTIVITY_SLOTS,
            workflow_task_poller_behavior=WORKFLOW_TASK_POLLERS,
            max_cached_workflows=CACHED_JOURNEYS,
        )
        async with worker:
            yield worker


def journey_worker_for(client: Client, store: EventStore, task_queue: str) -> AbstractAsyncContextManager[Worker]:
    """`workers.worker.journey_worker` with what it accepts today: client, store, task queue (others default)."""
    parameters = inspect.signature(journey_workers.journey_worker).parameters
    supplied = {"client", "store", "task_queue"}
    required = [
        name
        for name, parameter in parameters.items()
        if name not in supplied
        and parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        raise WorkerSetupError(
            f"workers.worker.journey_worker now requires {', '.join(required)}: "
            "bench/worker_process.py must learn to supply them"
        )
    options: dict[str, Any] = {"task_queue": task_queue} if "task_queue" in parameters else {}
    return journey_workers.journey_worker(client, store, **options)


def cached_workflows(worker: Worker) -> int | None:
    """Workflows in the worker's cache (an SDK internal: None if it has moved)."""
    workflow_worker = getattr(worker, "_workflow_worker", None)
    running = getattr(workflow_worker, "_running_workflows", None)
    return len(running) if isinstance(running, dict) else None


_answers = sys.stdout


def keep_stdout_for_answers() -> None:
    """Answers go to the original stdout; anything else that writes to fd 1 (the SDK core, a stray print)
    lands in the log with stderr, so the parent never reads a line that is not an answer."""
    global _answers
    _answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


def say(**message: object) -> None:
    print(json.dumps(message), file=_answers, flush=True)


async def serve(kind: str, address: str, namespace: str, task_queue: str, record_url: str | None) -> None:
    client = await Client.connect(address, namespace=namespace, data_converter=plain_data_converter())
    store = EventStore(record_url) if kind == JOURNEY and record_url else None
    try:
        context = floor_worker(client, task_queue) if store is None else journey_worker_for(client, store, task_queue)
        async with context as worker:
            say(event="ready", kind=kind, task_queue=task_queue)
            while line := await asyncio.to_thread(sys.stdin.readline):
                command = line.strip()
                if command == "stop":
                    break
                if command == "stats":
                    gc.collect()  # the same state for both kinds before the parent reads VmRSS
                    say(event="stats", cached_workflows=cached_workflows(worker), heap_kib=heap_kib())
                else:
                    say(event="error", error=f"unknown command {command!r}")
    finally:
        if store is not None:
            store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_process", description=__doc__)
    parser.add_argument("--kind", choices=(FLOOR, JOURNEY), required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--record-url", help="the trial record (journey workers only)")
    args = parser.parse_args(argv)
    if args.kind == JOURNEY and not args.record_url:
        parser.error("--record-url is required for a journey worker")
    keep_stdout_for_answers()
    configure_logging("json", "WARNING", stream=sys.stderr)
    try:
        asyncio.run(serve(args.kind, args.address, args.namespace, args.task_queue, args.record_url))
    except WorkerSetupError as error:
        say(event="error", error=str(error))
        return 2
    return 0


if __name__ == "__main__":
    exit_without_finalizing(main())  # the SDK's threads can crash a finalizing interpreter
