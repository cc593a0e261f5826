"""Ending a process that ran the Temporal SDK: once stopped and flushed, it exits without finalizing.

The SDK's Rust threads can abort a finalizing interpreter (temporalio/sdk-python#300): a clean stop would exit
with SIGABRT, which an orchestrator reads as a crash."""

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
