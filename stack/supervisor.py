"""`make run` keeps what it started running: a service that dies after it served is started again, the wait between
attempts doubling (1 s, 2 s, 4 s ... at most a minute; back to 1 s after a run that lasted a minute), and each death
logged with who died, how, and when the next attempt is. A service that fails before it ever served stops the stack
instead: that is a start-up problem (a port taken, a bad setting), which starting again cannot fix."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from observability.logging import get_logger

log = get_logger("stack.supervisor")


class ServiceExited(Exception):
    """A child process of the stack ended (it is never meant to, until the stack stops it)."""

    def __init__(self, service: str, exit_code: int) -> None:
        self.exit_code = exit_code
        super().__init__(f"{service} exited {describe_exit(exit_code)}")


def describe_exit(exit_code: int) -> str:
    if exit_code < 0:
        try:
            return f"killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            return f"killed by signal {-exit_code}"
    return f"with code {exit_code}"


@dataclass(frozen=True)
class Backoff:
    first_seconds: float = 1.0
    longest_seconds: float = 60.0
    stable_after_seconds: float = 60.0  # a run this long was no crash loop: the next wait starts again from `first`

    def delay(self, deaths_in_a_row: int) -> float:
        return min(self.first_seconds * 2 ** max(deaths_in_a_row - 1, 0), self.longest_seconds)


BACKOFF = Backoff()

# One run of a service: sets its event once it serves, then runs until it dies (returns or raises) or is cancelled.
RunOnce = Callable[[asyncio.Event], Awaitable[None]]


async def supervised(name: str, run_once: RunOnce, ready: asyncio.Event, backoff: Backoff = BACKOFF) -> None:
    """Run `run_once` again each time it dies after serving, until cancelled; `ready` is set when it first serves."""
    deaths_in_a_row = 0
    while True:
        started = ready if not ready.is_set() else asyncio.Event()
        began = time.monotonic()
        try:
            await run_once(started)
            how, exit_code = "ended", None
        except Exception as error:
            if not ready.is_set():
                raise  # never served: a start-up problem, which stops the stack saying why
            exit_code = error.exit_code if isinstance(error, ServiceExited) else None
            how = describe_exit(exit_code) if exit_code is not None else f"failed ({type(error).__name__})"
        if not ready.is_set():
            raise RuntimeError(f"{name} ended before it served")
        if time.monotonic() - began >= backoff.stable_after_seconds:
            deaths_in_a_row = 0
        deaths_in_a_row += 1
        delay = backoff.delay(deaths_in_a_row)
        log.error(
            "service_died",
            service=name,
            how=how,
            exit_code=exit_code,
            restart_in_seconds=delay,
            deaths_in_a_row=deaths_in_a_row,
        )
        await asyncio.sleep(delay)
        log.info("service_restarting", service=name, attempt=deaths_in_a_row + 1)
