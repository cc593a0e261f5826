"""The stack's supervision: a service that dies after it served is started again, each death logged with who died,
how and when the next attempt is, the waits doubling up to a bound; one that never served stops the stack."""

from __future__ import annotations

import asyncio
import sys

import pytest
from structlog.testing import capture_logs

from stack.services import run_child_process
from stack.supervisor import Backoff, ServiceExited, supervised
from tests.waiting import poll

QUICK = Backoff(first_seconds=0.01, longest_seconds=0.04, stable_after_seconds=60)


def test_the_wait_doubles_up_to_its_bound() -> None:
    backoff = Backoff()
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


async def test_a_child_that_dies_is_started_again_and_each_death_is_logged() -> None:
    runs: list[asyncio.Event] = []
    ready = asyncio.Event()

    async def child_that_dies(started: asyncio.Event) -> None:
        runs.append(started)
        dies = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
        code = dies if len(runs) < 4 else "import time; time.sleep(60)"
        await run_child_process("worker", [sys.executable, "-c", code], {}, started, stop_seconds=5)

    async def fourth_running() -> bool | None:
        return True if len(runs) >= 4 and runs[3].is_set() else None

    with capture_logs() as logs:
        supervisor = asyncio.create_task(supervised("worker", child_that_dies, ready, QUICK))
        await poll(fourth_running, "the fourth run")
        supervisor.cancel()
        await asyncio.gather(supervisor, return_exceptions=True)

    assert ready.is_set()
    deaths = [entry for entry in logs if entry["event"] == "service_died"]
    assert [(d["service"], d["how"], d["exit_code"]) for d in deaths] == [("worker", "killed by SIGKILL", -9)] * 3
    assert [d["restart_in_seconds"] for d in deaths] == [0.01, 0.02, 0.04]
    # The last one was running when the stack stopped: stopped (SIGTERM), never left behind.
    [stopped] = [entry for entry in logs if entry["event"] == "service_stopped"]
    assert stopped["exit_code"] == -15


async def test_a_service_that_never_served_stops_the_stack() -> None:
    async def exits_at_once(started: asyncio.Event) -> None:
        raise ServiceExited("worker", 2)

    with pytest.raises(ServiceExited, match="worker exited with code 2"):
        await supervised("worker", exits_at_once, asyncio.Event(), QUICK)


async def test_an_in_process_service_that_fails_after_serving_is_started_again() -> None:
    attempts: list[int] = []
    ready = asyncio.Event()

    async def api(started: asyncio.Event) -> None:
        attempts.append(1)
        started.set()
        if len(attempts) == 1:
            raise OSError("the listening socket went away")
        await asyncio.Event().wait()

    with capture_logs() as logs:
        supervisor = asyncio.create_task(supervised("api", api, ready, QUICK))

        async def second_attempt() -> bool | None:
            return True if len(attempts) >= 2 else None

        await poll(second_attempt, "the second attempt")
        supervisor.cancel()
        await asyncio.gather(supervisor, return_exceptions=True)
    [death] = [entry for entry in logs if entry["event"] == "service_died"]
    assert (death["service"], death["how"], death["exit_code"]) == ("api", "failed (OSError)", None)
