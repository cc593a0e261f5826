"""The functional core stays pure: nothing in domain/ imports I/O, Temporal or logging, or reads the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parent.parent / "domain"

FORBIDDEN_MODULES = frozenset(
    {
        # named by the design: Temporal, storage, logging, concurrency, network, the operating system
        "temporalio",
        "sqlalchemy",
        "structlog",
        "asyncio",
        "httpx",
        "requests",
        "logging",
        "os",
        "socket",
        # the same things by other names, and nondeterminism
        "alembic",
        "psycopg",
        "sqlite3",
        "subprocess",
        "shutil",
        "threading",
        "urllib",
        "time",
        "random",
    }
)
CLOCK_CALLS = frozenset(
    {
        ("datetime", "now"),
        ("datetime", "utcnow"),
        ("datetime", "today"),
        ("date", "today"),
        ("time", "time"),
        ("time", "time_ns"),
        ("time", "monotonic"),
        ("time", "perf_counter"),
    }
)
IO_BUILTINS = frozenset({"open", "print", "input"})


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        parent = _dotted(node.value)
        return f"{parent}.{node.attr}" if parent else None
    return None


def purity_violations(source: str, filename: str = "<module>") -> list[str]:
    """Every impure import or call in `source`, as 'file:line: what'."""
    problems: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        if isinstance(node, ast.Import | ast.ImportFrom):
            problems += [
                f"{filename}:{node.lineno}: imports {module}"
                for module in modules
                if module.split(".")[0] in FORBIDDEN_MODULES
            ]
        if isinstance(node, ast.Call):
            called = _dotted(node.func)
            if called is None:
                continue
            parts = called.split(".")
            if len(parts) >= 2 and (parts[-2], parts[-1]) in CLOCK_CALLS:
                problems.append(f"{filename}:{node.lineno}: reads the clock ({called}())")
            elif called in IO_BUILTINS:
                problems.append(f"{filename}:{node.lineno}: does I/O ({called}())")
    return problems


def domain_modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def test_the_domain_package_is_where_it_is_expected() -> None:
    modules = {path.name for path in domain_modules()}
    assert {"__init__.py", "protocol.py", "identifiers.py", "roles.py"} <= modules


def test_the_domain_is_pure() -> None:
    problems = [
        problem
        for path in domain_modules()
        for problem in purity_violations(path.read_text(), str(path.relative_to(DOMAIN.parent)))
    ]
    assert problems == []


@pytest.mark.parametrize(
    "source",
    [
        "import temporalio",
        "from temporalio import workflow",
        "import sqlalchemy.orm",
        "import structlog",
        "import asyncio",
        "import httpx",
        "import requests",
        "import logging",
        "import os.path",
        "from os import environ",
        "import socket",
        "import time",
        "import random",
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\nx = datetime.datetime.now()",
        "from datetime import datetime, UTC\nx = datetime.now(UTC)",
        "from datetime import datetime\nx = datetime.utcnow()",
        "from datetime import date\nx = date.today()",
        "import datetime as dt\nx = dt.date.today()",
        "def f():\n    return time.time()",
        "with open('x') as f:\n    pass",
        "print('hello')",
    ],
)
def test_the_check_catches_each_kind_of_impurity(source: str) -> None:
    assert purity_violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import UTC, date, datetime, time, timedelta",
        "from datetime import date\nx = date(2025, 3, 1)",
        "from datetime import datetime\nx = datetime.fromisoformat('2025-03-01T08:00:00+00:00')",
        "from domain.protocol import TrialProtocol",
        "from . import protocol",
        "from dateutil.relativedelta import relativedelta",
        "def now(state):\n    return state.now()",
    ],
)
def test_the_check_lets_pure_code_through(source: str) -> None:
    assert purity_violations(source) == []
