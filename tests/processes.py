"""Processes the tests start stop when the test session does, even one killed outright (Linux's parent-death
signal), so no worker or API outlives the run that started it."""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def stops_with_the_tests() -> None:
    """A `preexec_fn`: the child receives SIGTERM when the test process that started it dies."""
    if _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
