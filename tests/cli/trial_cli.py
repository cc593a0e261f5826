"""The `trial` app run in-process against the facade tests' dev server and record, as a user would configure it.

Patients are enrolled through the stack's own trial client (its worker serves them); the CLI then reaches their
journeys by workflow id, so no second worker is needed.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import structlog
from click.testing import Result
from typer.testing import CliRunner

from cli.main import app
from observability.logging import configure_logging
from tests.servers import Stack


@contextmanager
def worker_logs_kept_out_of_the_cli_output() -> Iterator[None]:
    """While the CLI runs, CliRunner swaps sys.stdout for the whole process: the worker logs to the real stderr."""
    with logging_restored():
        configure_logging("json", "WARNING", stream=sys.__stderr__)
        yield


@contextmanager
def logging_restored() -> Iterator[None]:
    """The CLI configures logging for its process (ours): put the test process's back afterwards."""
    saved_structlog, root = structlog.get_config(), logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        yield
    finally:
        structlog.configure(**saved_structlog)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@dataclass(frozen=True)
class TrialCli:
    env: dict[str, str]

    async def __call__(self, *args: str) -> Result:
        def run() -> Result:
            with logging_restored():
                return CliRunner().invoke(app, list(args), env=self.env, catch_exceptions=False)

        # In a thread: the CLI runs its own event loop while this one keeps the worker serving.
        return await asyncio.to_thread(run)


def trial_cli(stack: Stack) -> TrialCli:
    return TrialCli(
        env={
            "TRIALFLOW_TEMPORAL_ADDRESS": stack.server.address,
            "TRIALFLOW_DATABASE_URL": str(stack.store.engine.url),
            "TRIALFLOW_LOG_FORMAT": "json",
            "TRIALFLOW_USER": "",
            "TRIALFLOW_ROLE": "",
            "COLUMNS": "200",
        }
    )
