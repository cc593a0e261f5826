"""`python -m bench` (`make bench`): measure, print the table, write the JSON. `--help` lists the options."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from bench.journey_steps import MAX_PATIENTS
from bench.report import notes, table, write_json
from bench.run import SECTIONS, BenchSettings, figures_of, run_benchmark
from config.process_exit import exit_without_finalizing
from observability.logging import configure_logging
from simulation.cohort import MIN_COHORT

T = TypeVar("T")
TERMINATED_EXIT_CODE = 128 + signal.SIGTERM  # as the shell reports a process ended by SIGTERM

DEFAULTS = BenchSettings()
# A smoke run: every section and every figure, in well under a minute (figures meaningless at this size).
QUICK = replace(
    DEFAULTS,
    patients=5,
    concurrency=5,
    workers=2,  # the shape of the 10,000-patient run, smoke-tested
    warm_up=1,
    cohort=MIN_COHORT,
    append_patients=5,
    activity_append_patients=2,
    replay_repetitions=1,
    quick=True,
)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the patient journeys against a trivial-workflow floor on one embedded Temporal "
        "dev server, plus history size, replay, worker memory, trial-record appends and a simulated cohort.",
    )
    parser.add_argument("--patients", type=int, help=f"N concurrent patients (default {DEFAULTS.patients})")
    parser.add_argument("--concurrency", type=int, help=f"patients in flight at once (default {DEFAULTS.concurrency})")
    parser.add_argument(
        "--workers", type=int, help=f"worker processes per kind on the dev server (default {DEFAULTS.workers})"
    )
    parser.add_argument(
        "--no-floors",
        action="store_true",
        help="the journeys alone on the dev server, no floor (a scale run, compared with the journeys of another N)",
    )
    parser.add_argument(
        "--floor-scale",
        action="store_true",
        help="the floor whose update waits for a no-op activity alone on the dev server (its scale run: what the "
        "server charges a step at this N, compared with the journeys' scale runs)",
    )
    parser.add_argument("--cohort", type=int, help=f"size of the simulated cohort (default {DEFAULTS.cohort})")
    parser.add_argument("--warm-up", type=int, help=f"workflows run before memory is read (default {DEFAULTS.warm_up})")
    parser.add_argument("--out", type=Path, help=f"where the JSON goes (default {DEFAULTS.out})")
    parser.add_argument(
        "--only",
        help=f"comma-separated sections to run, of {', '.join(SECTIONS)} (default: all); the others are not measured",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a small smoke run (5 patients, the smallest cohort); figures meaningless"
    )
    return parser


def settings_from(args: argparse.Namespace) -> tuple[BenchSettings, list[str]]:
    """The settings asked for, on top of the defaults (or the quick ones), and every problem with them."""
    base = QUICK if args.quick else DEFAULTS
    chosen = {
        name: value
        for name, value in {
            "patients": args.patients,
            "concurrency": args.concurrency,
            "workers": args.workers,
            "floors": False if args.no_floors else None,
            "journeys": False if args.floor_scale else None,
            "cohort": args.cohort,
            "warm_up": args.warm_up,
            "out": args.out,
            "only": tuple(s.strip() for s in args.only.split(",") if s.strip()) if args.only is not None else None,
        }.items()
        if value is not None
    }
    settings = replace(base, **chosen)
    problems = []
    if not 1 <= settings.patients <= MAX_PATIENTS:
        problems.append(
            f"--patients must be 1 to {MAX_PATIENTS:,} (study ids have five digits), not {settings.patients}"
        )
    if settings.concurrency < 1:
        problems.append(f"--concurrency must be at least 1, not {settings.concurrency}")
    if settings.workers < 1:
        problems.append(f"--workers must be at least 1, not {settings.workers}")
    if settings.cohort < MIN_COHORT:
        problems.append(f"--cohort must be at least {MIN_COHORT} (the demo's plan needs them), not {settings.cohort}")
    if settings.warm_up < 1:
        problems.append(f"--warm-up must be at least 1 (memory is read after it), not {settings.warm_up}")
    if args.no_floors and args.floor_scale:
        problems.append("--no-floors and --floor-scale leave nothing to run on the dev server; give one of them")
    unknown = sorted(set(settings.only) - set(SECTIONS))
    if unknown or (args.only is not None and not settings.only):
        problems.append(f"--only takes sections among {', '.join(SECTIONS)}, not {args.only!r}")
    if settings.out.exists() and settings.out.is_dir():
        problems.append(f"--out {settings.out} is a directory; give a file name")
    return settings, problems


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def unwound_on_sigterm(work: Coroutine[Any, Any, T]) -> T:
    """`work`, cancelled by SIGTERM (a `kill`, a CI job's timeout) as Ctrl-C would stop it: every section unwinds,
    so the dev server stops and its database in /dev/shm (gigabytes of memory at 10,000 patients) is removed, not
    left behind until the machine restarts."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await work
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings, problems = settings_from(args)
    if problems:
        print("error: " + "; ".join(problems), file=sys.stderr)
        return 2
    configure_logging("console", "WARNING", stream=sys.stderr)  # the benchmark's own progress only
    began = time.perf_counter()
    try:
        document = asyncio.run(unwound_on_sigterm(run_benchmark(settings, progress=_progress)))
    except asyncio.CancelledError:
        print("stopped (SIGTERM): nothing written; the dev server and its files are cleaned up", file=sys.stderr)
        return TERMINATED_EXIT_CODE
    write_json(settings.out, document)
    figures = figures_of(document)
    print(table(figures))
    print()
    print(notes(figures))
    machine = document["machine"]
    print(
        f"\n{settings.patients} patients, concurrency {settings.concurrency}, {settings.workers} worker(s) a kind; "
        f"{machine['cpus']} CPUs, "
        f"{machine['ram_gib']} GiB, Python {machine['python']}; load average before {machine['load_average_before']}, "
        f"after {machine['load_average_after']}; took {time.perf_counter() - began:.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in document['section_seconds'].items())}); JSON: {settings.out}"
    )
    for problem in document["problems"]:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if document["problems"] else 0


if __name__ == "__main__":
    exit_without_finalizing(main())  # the SDK's threads can crash a finalizing interpreter
