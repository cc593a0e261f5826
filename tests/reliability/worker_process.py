"""`python -m workers` as a real operating-system process the fault tests can start, stop, and kill (SIGKILL),
with its JSON log kept in a file so a test can read what it did."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.processes import stops_with_the_tests

# How long a worker process may take to import, connect and announce itself on a loaded two-core machine.
STARTUP_WITHIN_SECONDS = 60.0
STOP_WITHIN_SECONDS = 30.0


class WorkerProcess:
    """One journey worker process. Its environment holds only the `TRIALFLOW_*` settings given here (nothing
    inherited, no `.env` read: it runs in `directory`), and its log lines go to `<directory>/<name>.log`."""

    def __init__(self, name: str, directory: Path, settings: Mapping[str, str]) -> None:
        self.name = name
        self.directory = directory
        self.log_file = directory / f"{name}.log"
        environment = {key: value for key, value in os.environ.items() if not key.startswith("TRIALFLOW_")}
        self._environment = environment | {"TRIALFLOW_LOG_FORMAT": "json", **settings}
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} was never started"
        return self._process.pid

    @property
    def identity(self) -> str:
        """The identity Temporal shows for this worker: the SDK's default, `<pid>@<host>`."""
        return f"{self.pid}@{socket.gethostname()}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        """Start the process and return once it says it is serving (its pollers are then running)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "workers",
                preexec_fn=stops_with_the_tests,
                cwd=self.directory,
                env=self._environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_WITHIN_SECONDS
        while not any(line.get("event") == "worker started" for line in self.log_lines()):
            if self._process.returncode is not None:
                raise AssertionError(f"{self.name} exited with {self._process.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                within = f"{STARTUP_WITHIN_SECONDS:g} s"
                raise AssertionError(f"{self.name} did not start within {within}:\n{self.log_text()}")
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no activity finished, no completion reported; as a power cut would leave it."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)

    async def wait_killed(self) -> None:
        assert self._process is not None
        await asyncio.wait_for(self._process.wait(), timeout=STOP_WITHIN_SECONDS)
        assert self._process.returncode == -signal.SIGKILL, self._process.returncode

    async def stop(self) -> int:
        """SIGTERM (the worker finishes the activities in hand), SIGKILL if it hangs; its exit code."""
        process = self._process
        if process is None or process.returncode is not None:
            return process.returncode if process is not None and process.returncode is not None else 0
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), timeout=STOP_WITHIN_SECONDS)
        except TimeoutError:
            process.kill()
            return await process.wait()

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else "(no output)"

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines it wrote (anything else it printed is skipped)."""
        lines = []
        for text in self.log_text().splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if isinstance(line, dict):
                lines.append(line)
        return lines


def worker_settings(temporal_address: str, data_dir: Path, **more: str) -> dict[str, str]:
    """The settings every worker of a test shares: the server, the data directory (the SQLite record unless
    `TRIALFLOW_DATABASE_URL` is given in `more`, as `database_url=...`)."""
    settings = {"TRIALFLOW_TEMPORAL_ADDRESS": temporal_address, "TRIALFLOW_DATA_DIR": str(data_dir)}
    settings |= {f"TRIALFLOW_{key.upper()}": value for key, value in more.items()}
    return settings
