"""Ending a process that ran the Temporal SDK.

The SDK's Rust threads can outlive the event loop and abort the interpreter while it finalizes ("Fatal Python
error: PyGILState_Release ... finalizing", temporalio/sdk-python#300): a worker that stopped cleanly would then
exit with SIGABRT, and an orchestrator would see a crash. Once everything is stopped and flushed, the process
exits without finalizing.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn


def exit_without_finalizing(code: int) -> NoReturn:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
