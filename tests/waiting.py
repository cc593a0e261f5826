"""Waiting for what servers do on their own time (visibility, timers, restarts). Each deadline bounds a hang on a
loaded machine; it is never a claim about speed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 60.0


async def poll(check: Callable[[], Awaitable[T | None]], what: str, within_seconds: float = POLL_SECONDS) -> T:
    """The first answer `check` gives that is not None."""
    deadline = time.monotonic() + within_seconds
    while (answer := await check()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within_seconds:g} s")
        await asyncio.sleep(0.05)
    return answer


async def eventually(check: Callable[[], Awaitable[T]], what: str, within_seconds: float = 90.0) -> T:
    """The first answer `check` gives without failing; the last failure if none came within the deadline."""
    deadline = time.monotonic() + within_seconds
    while True:
        try:
            return await check()
        except Exception as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: still failing after {within_seconds:g} s: {error!r}") from error
        await asyncio.sleep(0.2)
