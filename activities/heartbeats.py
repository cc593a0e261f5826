"""Heartbeats for the journey's activities, so that Temporal knows within seconds when the worker running one has
died (its heartbeat timeout, workflows/patient_journey.py) and gives the work to another worker, instead of waiting
out the whole start-to-close timeout.

A sync activity spends its time in one blocking call (a database write, an HTTP request): a helper thread heartbeats
while it runs, in the activity's own context. A live worker keeps heartbeating however long the database makes it
wait; only a dead (or frozen) worker stops."""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import ParamSpec, TypeVar

from temporalio import activity

# Well inside the heartbeat timeout the workflow gives these activities (the SDK sends at most one per 80 % of it).
HEARTBEAT_EVERY = timedelta(seconds=1)

P = ParamSpec("P")
R = TypeVar("R")


def heartbeating(function: Callable[P, R]) -> Callable[P, R]:
    """Wrap a sync activity: it heartbeats every HEARTBEAT_EVERY until it returns or raises."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        done = threading.Event()
        context = contextvars.copy_context()  # the activity's: heartbeat() finds its activity there

        def beat() -> None:
            while not done.wait(HEARTBEAT_EVERY.total_seconds()):
                context.run(activity.heartbeat)

        beater = threading.Thread(target=beat, name="activity-heartbeat", daemon=True)
        beater.start()
        try:
            return function(*args, **kwargs)
        finally:
            done.set()
            beater.join()

    return run
