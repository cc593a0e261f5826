"""The suite lets pass, as unraisable, only the Temporal SDK's interruption of a deadlocked workflow task."""

from __future__ import annotations

import sys
from types import SimpleNamespace

from temporalio.worker import _workflow as sdk_workflow_worker

from tests.unraisable import is_sdk_deadlock_interruption, passing_sdk_deadlock_interruptions


def unraisable(error: BaseException) -> sys.UnraisableHookArgs:
    return SimpleNamespace(  # type: ignore[return-value]
        exc_type=type(error), exc_value=error, exc_traceback=None, err_msg=None, object=None
    )


def test_the_sdks_deadlock_interruption_is_known_by_its_class() -> None:
    # Fails the day the SDK renames or moves its class: the match in tests/unraisable.py must follow it.
    assert is_sdk_deadlock_interruption(sdk_workflow_worker._InterruptDeadlockError())
    assert not is_sdk_deadlock_interruption(RuntimeError("a leak"))
    assert not is_sdk_deadlock_interruption(None)


def test_only_the_deadlock_interruption_passes_every_other_is_reported() -> None:
    reported: list[BaseException | None] = []
    hook = passing_sdk_deadlock_interruptions(lambda args: reported.append(args.exc_value))
    leak = ResourceWarning("unclosed file")
    hook(unraisable(sdk_workflow_worker._InterruptDeadlockError()))
    hook(unraisable(leak))
    assert reported == [leak]


def test_the_suite_runs_with_the_wrapped_hook() -> None:
    assert sys.unraisablehook.__qualname__.startswith(passing_sdk_deadlock_interruptions.__qualname__)
