"""The demo run with its trial record kept, as the tests that read that record need it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from simulation.demo import DemoResult, again_if_stalled, run_demo


@dataclass(frozen=True)
class KeptDemo:
    result: DemoResult
    record_url: str
    lines: list[str]  # its progress, as `trial-demo` prints it


async def demo_with_kept_record(tmp_path_factory: pytest.TempPathFactory, seed: int, patients: int) -> KeptDemo:
    """`run_demo` keeping its record in a new, empty SQLite file. `run_demo` drives a run whose time-skipping server
    stalled again by itself only into a throw-away record (a kept one holds the stalled run's part); so here, the
    same rule: once more, into another new file."""

    async def into_a_new_record() -> KeptDemo:
        record_url = f"sqlite:///{tmp_path_factory.mktemp('demo-record') / 'trial-record.db'}"
        lines: list[str] = []
        result = await run_demo(seed=seed, patients=patients, say=lines.append, record_url=record_url)
        return KeptDemo(result, record_url, lines)

    kept, _restarts = await again_if_stalled(into_a_new_record, say=lambda _line: None, can_retry=True)
    return kept
