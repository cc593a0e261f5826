"""How long a `trial` command takes from the shell's Enter to its exit: the entry point run as a new process, median
of a few runs, beside the floors no command can go below: the bare interpreter starting and stopping; the stack's, a
typer command that prints one pydantic model (bench/cli_stack_floor.py); and, for `trial status`, the same command
asking the served API's /healthz with httpx first."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.cli_server import BENCH_PATIENT, ServedTrial

REPETITIONS = 5
# The commands people wait on (issue 19): figure key -> arguments of `trial`.
CLI_COMMANDS: dict[str, tuple[str, ...]] = {
    "cli_version_ms": ("version",),
    "cli_dose_ms": ("dose", "--height-cm", "120", "--weight-kg", "25"),
    "cli_status_ms": ("status", BENCH_PATIENT),
}
FLOOR_COMMAND: tuple[str, ...] = ("-c", "pass")
STACK_FLOOR_COMMAND: tuple[str, ...] = (str(Path(__file__).with_name("cli_stack_floor.py")),)
COMMAND_TIMEOUT_SECONDS = 60  # a hang guard, not a speed check


@dataclass
class CliTiming:
    argv: tuple[str, ...]
    samples_ms: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.samples_ms) if self.samples_ms else None


def trial_command() -> list[str]:
    """The installed `trial` entry point beside this interpreter, or the module when it is not installed."""
    script = Path(sys.executable).with_name("trial")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


def time_command(argv: list[str], repetitions: int, env: dict[str, str]) -> CliTiming:
    """One warm-up run (the page cache, .pyc files), then `repetitions` timed runs."""
    timing = CliTiming(tuple(argv))
    for run in range(repetitions + 1):
        began = time.perf_counter()
        finished = subprocess.run(
            argv, capture_output=True, env=env, timeout=COMMAND_TIMEOUT_SECONDS, check=False, stdin=subprocess.DEVNULL
        )
        elapsed_ms = (time.perf_counter() - began) * 1000
        if run:
            timing.samples_ms.append(round(elapsed_ms, 1))
            timing.exit_codes.append(finished.returncode)
    return timing


@dataclass
class CliFloors:
    interpreter: CliTiming  # `python -c pass`
    stack: CliTiming  # a typer command printing one pydantic model
    api: CliTiming  # the same, after asking the served API's /healthz with httpx


def measure_cli(served: ServedTrial, repetitions: int = REPETITIONS) -> tuple[CliFloors, dict[str, CliTiming]]:
    """The floors, then each command, under the served trial's environment (its API's URL, a signed-in profile)."""
    env = {**os.environ, **served.env}
    floors = CliFloors(
        interpreter=time_command([sys.executable, *FLOOR_COMMAND], repetitions, env),
        stack=time_command([sys.executable, *STACK_FLOOR_COMMAND], repetitions, env),
        api=time_command(
            [sys.executable, *STACK_FLOOR_COMMAND, "--url", f"{served.api_url}/healthz"], repetitions, env
        ),
    )
    trial = trial_command()
    return floors, {key: time_command([*trial, *args], repetitions, env) for key, args in CLI_COMMANDS.items()}
