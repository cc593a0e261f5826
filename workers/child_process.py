"""Child processes that stop when the process that started them dies, even killed outright (SIGKILL): on Linux the
kernel's parent-death signal (prctl PR_SET_PDEATHSIG) sends them SIGTERM, so they stop as cleanly as on Ctrl-C.

`dies_with_this_process(argv)` is the command line to start: a small launcher (`python -m workers.child_process
<parent pid> <program> <args...>`) that asks for the signal, checks its parent is still the one that started it,
then executes the program in its place (same pid). A launcher rather than a `preexec_fn`: the parent has threads
(the Temporal SDK's, the activity pool), and code run between fork and exec could deadlock on a lock one of them
held. Elsewhere than Linux the program simply runs; a stale dev server is then cleared by the next start (its pid
file, workers/dev_server.py)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Sequence

_PR_SET_PDEATHSIG = 1


def dies_with_this_process(argv: Sequence[str]) -> list[str]:
    """The command line that runs `argv` as a child stopped (SIGTERM) when this process dies."""
    return [sys.executable, "-m", "workers.child_process", str(os.getpid()), *argv]


def ask_for_parent_death_signal(sig: signal.Signals = signal.SIGTERM) -> bool:
    """Linux: `sig` when the parent dies; elsewhere nothing (False)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    return True


def _launch(arguments: Sequence[str]) -> int:
    if len(arguments) < 2 or not arguments[0].isdigit():
        print("usage: python -m workers.child_process <parent pid> <program> [args...]", file=sys.stderr)
        return 2
    parent, program = int(arguments[0]), list(arguments[1:])
    ask_for_parent_death_signal()
    # The parent may have died before the signal was asked for: then nobody would stop the program.
    if os.getppid() != parent:
        return 1
    os.execvp(program[0], program)  # never returns


if __name__ == "__main__":
    sys.exit(_launch(sys.argv[1:]))
