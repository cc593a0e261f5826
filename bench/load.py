"""Measuring under load: operations timed one by one, a bounded number in flight, every failure counted."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from bench.cpu import CpuSeconds

T = TypeVar("T")
ERROR_EXAMPLES_KEPT = 3
_COUNTED = "_counted_by_bench"


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (p99 of 100 samples is the 99th smallest); None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Phase:
    """One kind of operation timed over a run: how many succeeded, how long each took, what failed and why."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: dict[str, list[str]] = field(default_factory=dict)
    started: float | None = None
    ended: float | None = None
    cpu: dict[str, CpuSeconds] | None = None  # by role (bench/cpu.py), over the phase; None: not metered

    async def timed(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run and time one operation; a failure is counted (type and first messages kept) and raised again."""
        began = time.perf_counter()
        try:
            result = await operation()
        except Exception as error:
            self.count(error)
            raise
        self.latencies_ms.append((time.perf_counter() - began) * 1000)
        return result

    def count(self, error: Exception) -> None:
        """A failure, by type, with its first messages kept; marked so that `bounded` does not count it again."""
        kind = type(error).__name__
        self.errors[kind] += 1
        examples = self.error_examples.setdefault(kind, [])
        if len(examples) < ERROR_EXAMPLES_KEPT:
            examples.append(str(error)[:500])
        setattr(error, _COUNTED, True)

    @property
    def succeeded(self) -> int:
        return len(self.latencies_ms)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def seconds(self) -> float:
        if self.started is None or self.ended is None:
            return 0.0
        return self.ended - self.started

    @property
    def per_second(self) -> float | None:
        return self.succeeded / self.seconds if self.seconds > 0 else None

    def p(self, fraction: float) -> float | None:
        return percentile(self.latencies_ms, fraction)

    def cpu_ms_per_operation(self, role: str) -> float | None:
        """The CPU `role` spent over the phase, per operation that succeeded."""
        if self.cpu is None or role not in self.cpu or not self.succeeded:
            return None
        return self.cpu[role].total * 1000 / self.succeeded

    def summary(self) -> dict[str, object]:
        return {
            "succeeded": self.succeeded,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "per_second": None if self.per_second is None else round(self.per_second, 2),
            "p50_ms": _rounded(self.p(0.50)),
            "p99_ms": _rounded(self.p(0.99)),
            "errors": dict(self.errors),
            "error_examples": self.error_examples,
            "cpu": None
            if self.cpu is None
            else {
                role: {
                    "user_seconds": round(seconds.user, 2),
                    "system_seconds": round(seconds.system, 2),
                    "ms_per_operation": _rounded(self.cpu_ms_per_operation(role)),
                }
                for role, seconds in self.cpu.items()
            },
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def bounded(items: Iterable[T], work: Callable[[T], Awaitable[object]], concurrency: int, phase: Phase) -> int:
    """`work(item)` for every item, at most `concurrency` at once; returns how many items failed.

    The phase's wall clock runs from the first start to the last finish; a failure that no `Phase.timed`
    counted (a bug in the driver, say) is counted in this phase, never dropped.
    """
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(item: T) -> None:
        nonlocal failures
        async with gate:
            try:
                await work(item)
            except Exception as error:
                failures += 1  # the item's remaining steps are skipped
                if not getattr(error, _COUNTED, False):
                    phase.count(error)

    phase.started = time.perf_counter()
    try:
        await asyncio.gather(*(one(item) for item in items))
    finally:
        phase.ended = time.perf_counter()
    return failures
