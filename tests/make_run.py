"""`make run` as a new user runs it, for the tests that exercise it: in its own process group, on free ports and
a data directory of the test's own, stopped with Ctrl-C (SIGINT to the group) as a terminal sends it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.waiting import poll
from workers.dev_server import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 120.0  # bounds on a hang of the whole stack on a loaded machine, never a claim about speed


@dataclass(frozen=True)
class MakeRunSetup:
    data_dir: Path
    temporal_port: int
    ui_port: int
    api_port: int
    codec_port: int

    @classmethod
    def in_folder(cls, folder: Path) -> MakeRunSetup:
        return cls(folder / "data", free_port(), free_port(), free_port(), free_port())

    def environment(self) -> dict[str, str]:
        """The user's environment without their TRIALFLOW_* settings, and this setup's."""
        environment = {name: value for name, value in os.environ.items() if not name.startswith("TRIALFLOW_")}
        return environment | {
            "TRIALFLOW_DATA_DIR": str(self.data_dir),
            "TRIALFLOW_TEMPORAL_PORT": str(self.temporal_port),
            "TRIALFLOW_TEMPORAL_UI_PORT": str(self.ui_port),
            "TRIALFLOW_API_PORT": str(self.api_port),
            "TRIALFLOW_CODEC_PORT": str(self.codec_port),
            "TRIALFLOW_LOG_FORMAT": "json",
        }


def printed_address(lines: list[str], label: str) -> str:
    match = re.search(rf"{label}:\s+(\S+)", "".join(lines))
    assert match, f"make run printed no {label}"
    return match.group(1)


@dataclass
class MakeRun:
    """A running `make run`: the `make` process, and every line printed so far (read in the background)."""

    process: asyncio.subprocess.Process
    lines: list[str]

    def output(self) -> str:
        return "".join(self.lines)

    def stack_process(self) -> psutil.Process:
        """`python -m stack`, the process `make` runs."""
        [stack] = [child for child in psutil.Process(self.process.pid).children() if "stack" in child.cmdline()]
        return stack

    def worker_process(self) -> psutil.Process:
        """The journey worker the stack started (`python -m workers`)."""
        [worker] = [
            child
            for child in self.stack_process().children()
            if child.cmdline()[-2:] == ["-m", "workers"] and child.status() != psutil.STATUS_ZOMBIE
        ]
        return worker

    async def printed(self, text: str, what: str) -> None:
        """Wait until `text` has been printed."""

        async def seen() -> bool | None:
            return True if text in self.output() else None

        await poll(seen, what, within_seconds=START_SECONDS)


async def _read_lines(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while line := await stream.readline():
        lines.append(line.decode(errors="replace"))


@asynccontextmanager
async def started_make_run(setup: MakeRunSetup) -> AsyncIterator[MakeRun]:
    """`make run` until the block ends (then Ctrl-C, if it still runs); yields once the addresses are printed."""
    process = await asyncio.create_subprocess_exec(
        "make",
        "--no-print-directory",
        "-s",
        "run",
        cwd=REPO_ROOT,
        env=setup.environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    running = MakeRun(process, [])
    reader = asyncio.create_task(_read_lines(process.stdout, running.lines))
    try:
        deadline = time.monotonic() + START_SECONDS
        while not any("Codec server:" in line for line in running.lines):  # the last address printed
            assert not reader.done(), "make run exited before it was running:\n" + running.output()
            assert time.monotonic() < deadline, "make run was not running within START_SECONDS:\n" + running.output()
            await asyncio.sleep(0.1)
        yield running
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
        await asyncio.wait_for(asyncio.gather(reader, process.wait()), timeout=START_SECONDS)


@asynccontextmanager
async def make_run(setup: MakeRunSetup) -> AsyncIterator[list[str]]:
    """Running until the block ends; yields the lines printed (so far). Checks it stopped cleanly."""
    async with started_make_run(setup) as running:
        yield running.lines
    assert_stopped_cleanly(running.output())


def assert_stopped_cleanly(output: str) -> None:
    assert "trialflow is running" in output, output
    # Every part logs its clean stop (JSON lines), the dev server last.
    for stopped in ('"event": "api_stopped"', '"event": "dev_server_stopped"', '"event": "stopped"'):
        assert stopped in output, output
    assert "Traceback" not in output, output
