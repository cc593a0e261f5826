"""Heartbeats for the journey's activities, so that Temporal knows within seconds when the worker running one has
died (its heartbeat timeout, workflows/patient_journey.py) and gives the work to another worker, instead of waiting
out the whole start-to-close timeout.

A sync activity spends its time in one blocking call (a database write, an HTTP request): one helper thread of the
process heartbeats for every activity running, each in its own context. A live worker keeps heartbeating however
long the database makes it wait; only a dead (or frozen) worker stops. One thread for all, not one started per
activity: starting a thread cost each activity 3-5 ms here, waiting for the GIL (docs/performance.md)."""

from __future__ import annotations

import contextvars
import functools
import itertools
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import ParamSpec, TypeVar

import structlog
from temporalio import activity

# Well inside the heartbeat timeout the workflow gives these activities (the SDK sends at most one per 80 % of it).
HEARTBEAT_EVERY = timedelta(seconds=1)

P = ParamSpec("P")
R = TypeVar("R")

log = structlog.get_logger("trialflow.activities")


class Heartbeats:
    """The activities running in this process, each beaten every HEARTBEAT_EVERY by one thread (started on first
    use, again after a fork). Once `stop` returns, the activity is never beaten again."""

    def __init__(self, every: timedelta = HEARTBEAT_EVERY) -> None:
        self._every = every.total_seconds()
        self._running: dict[int, contextvars.Context] = {}
        self._keys = itertools.count()
        self._lock = threading.Lock()  # held while beating: `stop` waits out a beat in progress
        self._thread: threading.Thread | None = None

    def start(self, context: contextvars.Context) -> int:
        with self._lock:
            key = next(self._keys)
            self._running[key] = context
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._beat, name="activity-heartbeats", daemon=True)
                self._thread.start()
        return key

    def stop(self, key: int) -> None:
        with self._lock:
            del self._running[key]

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def _beat(self) -> None:
        wake = threading.Event()  # never set: a sleep that is not a busy wait
        while not wake.wait(self._every):
            with self._lock:
                for key, context in list(self._running.items()):
                    try:
                        context.run(activity.heartbeat)
                    except Exception as error:  # one activity's context gone wrong: the others still beat
                        log.error("heartbeat failed", error=f"{type(error).__name__}: {error}")
                        del self._running[key]


HEARTBEATS = Heartbeats()


def heartbeating(function: Callable[P, R]) -> Callable[P, R]:
    """Wrap a sync activity: it heartbeats every HEARTBEAT_EVERY until it returns or raises."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        key = HEARTBEATS.start(contextvars.copy_context())  # the activity's: heartbeat() finds its activity there
        try:
            return function(*args, **kwargs)
        finally:
            HEARTBEATS.stop(key)

    return run
