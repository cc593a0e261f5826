"""`make run` as a new user runs it, for the tests that exercise it: in its own process group, on free ports and
a data directory of the test's own, stopped with Ctrl-C (SIGINT to the group) as a terminal sends it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

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


@asynccontextmanager
async def make_run(setup: MakeRunSetup) -> AsyncIterator[list[str]]:
    """Running until the block ends; yields the lines printed up to the addresses. Checks it stopped cleanly."""
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
    lines: list[str] = []
    try:
        deadline = time.monotonic() + START_SECONDS
        while not any("Codec server:" in line for line in lines):  # the last address printed
            line = await asyncio.wait_for(process.stdout.readline(), timeout=max(deadline - time.monotonic(), 0.1))
            assert line, "make run exited before it was running:\n" + "".join(lines)
            lines.append(line.decode())
        yield lines
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=START_SECONDS)
        lines.extend(rest.decode().splitlines(keepends=True))
    output = "".join(lines)
    assert "trialflow is running" in output, output
    # Every part logs its clean stop (JSON lines), the dev server last.
    for stopped in ('"event": "api_stopped"', '"event": "dev_server_stopped"', '"event": "stopped"'):
        assert stopped in output, output
    assert "Traceback" not in output, output
