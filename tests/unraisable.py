"""Which exceptions Python reports as "unraisable" the suite lets pass (pyproject.toml makes every other one an
error): only the Temporal SDK's own interruption of a workflow task that ran past its 2 s deadlock limit.

On a loaded machine a workflow activation can take longer than that (the sandbox importing the workflow module,
a garbage collection). The SDK then fails the task, which Temporal retries, and raises an exception asynchronously
into the thread that ran it. Where that exception lands is chance: inside a finalizer or a weakref callback (a
collection running at that moment), Python can only report it as unraisable. The run is unharmed, and a workflow
that really deadlocks still fails the test that waits on it."""

from __future__ import annotations

import sys
from collections.abc import Callable

# The SDK's private class (temporalio.worker._workflow), matched by name: it has no public home.
SDK_DEADLOCK_INTERRUPTION = ("temporalio.worker._workflow", "_InterruptDeadlockError")

UnraisableHook = Callable[["sys.UnraisableHookArgs"], object]


def is_sdk_deadlock_interruption(error: BaseException | None) -> bool:
    kind = type(error)
    return (kind.__module__, kind.__name__) == SDK_DEADLOCK_INTERRUPTION


def passing_sdk_deadlock_interruptions(report: UnraisableHook) -> UnraisableHook:
    """`report` (pytest's hook), for every unraisable exception but the SDK's deadlock interruption."""

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if not is_sdk_deadlock_interruption(unraisable.exc_value):
            report(unraisable)

    return hook
