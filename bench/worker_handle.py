"""The parent's side of `bench.worker_process`: start it, read its memory from /proc, stop it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bench.worker_heap import HEAP_PARTS, Heap

PROJECT_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 60
BYTECODE_CACHE = "bytecode-cache"
STOP_TIMEOUT_SECONDS = 30


def with_bytecode_cache(environment: Mapping[str, str], cache: Path) -> dict[str, str]:
    """The worker's environment with Python's bytecode cache on (kept in `cache`, outside the checkout), as the
    installed image has it (pip compiles on install). Under PYTHONDONTWRITEBYTECODE a checkout has no .pyc, and the
    sandbox then compiles the workflow module from source for every new workflow run: in a journey worker under
    enrollment, 7 % of its samples (py-spy), a cost production never pays (docs/performance.md)."""
    environment = {k: v for k, v in environment.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return environment | {"PYTHONPYCACHEPREFIX": str(cache)}


class WorkerProcessError(RuntimeError):
    """The worker process did not start, answer or stop; the message carries its last output."""


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc/<pid>/status (VmRSS, in KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise WorkerProcessError(f"/proc/{pid}/status has no VmRSS line")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CORE_LEVELS = {"WARN": "warning", "ERROR": "error", "INFO": "info", "DEBUG": "debug", "TRACE": "debug"}


def _level_of(line: str) -> str:
    """The level of a worker log line: structlog's JSON, or the SDK core's own text lines (`... WARN ...`)."""
    try:
        parsed = json.loads(line)
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        return str(parsed.get("level", "unknown")).lower()
    words = _ANSI.sub("", line).split()
    for word in words[:3]:
        if word in _CORE_LEVELS:
            return _CORE_LEVELS[word]
    return "other"  # a traceback line, a stray print: counted, never read as a level


@dataclass(frozen=True)
class WorkerStats:
    rss_kib: int
    cached_workflows: int | None
    heap_kib: Heap = field(default_factory=dict)  # by allocator, as the worker reads it (bench/worker_heap.py)


def summed_heaps(heaps: list[Heap]) -> Heap:
    """Each part summed over the workers; None where any worker could not read it."""
    parts = [[heap.get(part) for heap in heaps] for part in HEAP_PARTS]
    return {
        part: None if None in values else sum(v for v in values if v is not None)
        for part, values in zip(HEAP_PARTS, parts, strict=True)
    }


class WorkerProcess:
    """`async with WorkerProcess(...) as worker:` a worker of `kind` ("floor" or "journey") polling `task_queue`."""

    def __init__(self, kind: str, address: str, task_queue: str, log_file: Path, record_url: str | None = None) -> None:
        self.kind = kind
        self.address = address
        self.task_queue = task_queue
        self.log_file = log_file
        self.record_url = record_url
        self._process: asyncio.subprocess.Process | None = None
        self._log: Any = None
        self.stray_output: list[str] = []

    @property
    def pid(self) -> int:
        if self._process is None:
            raise WorkerProcessError("the worker process is not running")
        return self._process.pid

    async def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "bench.worker_process",
            "--kind",
            self.kind,
            "--address",
            self.address,
            "--task-queue",
            self.task_queue,
        ]
        if self.record_url:
            command += ["--record-url", self.record_url]
        self._log = self.log_file.open("w")
        self._process = await asyncio.create_subprocess_exec(
            *command,
            cwd=PROJECT_ROOT,
            env=with_bytecode_cache(os.environ, self.log_file.parent / BYTECODE_CACHE),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
        )
        try:
            message = await asyncio.wait_for(self._next_message(), READY_TIMEOUT_SECONDS)
        except TimeoutError:
            await self.stop()
            raise WorkerProcessError(f"the {self.kind} worker was not ready within {READY_TIMEOUT_SECONDS} s") from None
        if message.get("event") != "ready":
            await self.stop()
            raise WorkerProcessError(f"the {self.kind} worker did not start: {message.get('error', message)}")

    async def _next_message(self) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None
        while line := await self._process.stdout.readline():
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict) and "event" in parsed:
                return parsed
            self.stray_output.append(line.decode(errors="replace").rstrip())  # reported, never taken as an answer
        await self._process.wait()
        raise WorkerProcessError(
            f"the {self.kind} worker exited with code {self._process.returncode}; its log:\n{self.log_tail()}"
        )

    async def stats(self) -> WorkerStats:
        """Its RSS as the kernel reports it, and how many workflows its cache holds (asked after a gc)."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(b"stats\n")
        await self._process.stdin.drain()
        message = await asyncio.wait_for(self._next_message(), READY_TIMEOUT_SECONDS)
        return WorkerStats(
            rss_kib=rss_kib(self.pid),
            cached_workflows=message.get("cached_workflows"),
            heap_kib=dict(message.get("heap_kib") or {}),
        )

    async def settled_stats(self, interval: float = 0.5, steady_reads: int = 3, within: float = 30.0) -> WorkerStats:
        """Stats once the cache has stopped changing: a journey continuing-as-new is briefly out of the cache
        (the old run evicted, the new one not yet run), so a single read can miss workflows that are there."""
        deadline = asyncio.get_running_loop().time() + within
        last = await self.stats()
        steady = 1
        while steady < steady_reads and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(interval)
            current = await self.stats()
            steady = steady + 1 if current.cached_workflows == last.cached_workflows else 1
            last = current
        return last

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_file.exists():
            return "(no log)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:]) or "(empty)"

    def log_problems(self) -> dict[str, int]:
        """Warning and error lines the worker logged (JSON lines), by level: failures the client may not see."""
        counts: dict[str, int] = {}
        if not self.log_file.exists():
            return counts
        for line in self.log_file.read_text(errors="replace").splitlines():
            level = _level_of(line)
            counts[level] = counts.get(level, 0) + 1
        return counts

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                assert process.stdin is not None
                process.stdin.write(b"stop\n")
                await process.stdin.drain()
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class WorkerProcesses:
    """`async with WorkerProcesses(...) as workers:` `count` worker processes of one kind polling one task queue
    (each workflow task goes to whichever asks first), read and stopped together: their RSS and cached workflows
    summed, their log lines counted together."""

    def __init__(
        self, kind: str, address: str, task_queue: str, log_file: Path, count: int = 1, record_url: str | None = None
    ) -> None:
        if count < 1:
            raise ValueError(f"a run needs at least one worker, not {count}")
        self.processes = [
            WorkerProcess(kind, address, task_queue, _numbered(log_file, number, count), record_url)
            for number in range(1, count + 1)
        ]

    async def settled_stats(self) -> WorkerStats:
        each = await asyncio.gather(*(process.settled_stats() for process in self.processes))
        cached = [stats.cached_workflows for stats in each]
        return WorkerStats(
            rss_kib=sum(stats.rss_kib for stats in each),
            cached_workflows=None if None in cached else sum(n for n in cached if n is not None),
            heap_kib=summed_heaps([stats.heap_kib for stats in each]),
        )

    def log_problems(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for process in self.processes:
            for level, lines in process.log_problems().items():
                counts[level] = counts.get(level, 0) + lines
        return counts

    async def __aenter__(self) -> Self:
        try:
            for process in self.processes:
                await process.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        await asyncio.gather(*(process.stop() for process in self.processes))

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


def _numbered(log_file: Path, number: int, count: int) -> Path:
    """One worker keeps the log's name; several are numbered (journey-worker-1.log, journey-worker-2.log)."""
    return log_file if count == 1 else log_file.with_name(f"{log_file.stem}-{number}{log_file.suffix}")
