"""A whole cohort through the protocol on the time-skipping server: `trial-demo`'s own driver, lifted above the
command line's MAX_COHORT cap, so the cohort is what a larger `trial-demo --patients` would enroll."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

from simulation import cohort as demo_cohort
from simulation.demo import DEFAULT_SEED, DrivenStep, ignore_step, run_demo

BENCH_COHORT = 100


@dataclass(frozen=True)
class CohortTiming:
    patients: int
    seconds: float
    report_matches_cohort: bool
    mismatches: tuple[str, ...]
    restarts: int  # driven again after its time-skipping server stalled: the seconds include the stalled run


class CohortFailed(RuntimeError):
    """The simulation stopped with an error: how far it got is part of the figure's story."""

    def __init__(self, patients: int, seconds: float, error: Exception) -> None:
        super().__init__(f"the cohort of {patients} failed after {seconds:.0f} s: {type(error).__name__}: {error}")
        self.seconds = seconds


@contextmanager
def cohort_size_allowed(size: int) -> Iterator[None]:
    if size <= demo_cohort.MAX_COHORT:
        yield
        return
    with mock.patch.object(demo_cohort, "MAX_COHORT", size):
        yield


async def simulate_cohort(
    size: int = BENCH_COHORT, seed: int = DEFAULT_SEED, on_step: Callable[[DrivenStep], None] = ignore_step
) -> CohortTiming:
    """Wall-clock seconds from starting the time-skipping server to the trial report of `size` children (and the
    demo's safety story after it); `on_step` sees each call the drive makes to the trial."""
    with cohort_size_allowed(size):
        began = time.perf_counter()
        try:
            # The trial admits the whole cohort, not the protocol's target.
            result = await run_demo(seed, size, say=lambda _line: None, accrual_target_infused=size, on_step=on_step)
        except Exception as error:
            raise CohortFailed(size, time.perf_counter() - began, error) from error
        seconds = time.perf_counter() - began
    return CohortTiming(size, seconds, result.report_matches_cohort, result.mismatches, result.restarts)
