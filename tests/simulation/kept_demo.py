"""The demo run with its trial record kept, as the tests that read that record need it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from simulation.demo import STALLED_RUN_ATTEMPTS, DemoResult, run_demo
from workers.time_skipping import TimeSkippingStalled


@dataclass(frozen=True)
class KeptDemo:
    result: DemoResult
    record_url: str
    lines: list[str] = field(default_factory=list)  # its progress, as `trial-demo` prints it


async def demo_with_kept_record(tmp_path_factory: pytest.TempPathFactory, seed: int, patients: int) -> KeptDemo:
    """`run_demo` keeping its record in a new, empty SQLite file. `run_demo` drives a run whose time-skipping server
    stalled again by itself only into a throw-away record (a kept one holds the stalled run's part); so here, the
    same: once more, into another new file."""
    attempt = 1
    while True:
        record_url = f"sqlite:///{tmp_path_factory.mktemp('demo-record') / 'trial-record.db'}"
        lines: list[str] = []
        try:
            result = await run_demo(seed=seed, patients=patients, say=lines.append, record_url=record_url)
        except TimeSkippingStalled:
            if attempt == STALLED_RUN_ATTEMPTS:
                raise
            attempt += 1
            continue
        return KeptDemo(result, record_url, lines)
