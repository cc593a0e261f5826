"""`python -m workers` against a real dev server: it serves journeys and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from config.journey_ids import TASK_QUEUE
from domain.journey.phases import Phase
from records import EventStore
from tests.processes import stops_with_the_tests
from tests.workflows.journey_client import JourneyClient
from workers.dev_server import DevServer

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


async def _poll(check: Callable[[], Awaitable[T]], within_seconds: float = 20.0) -> T:
    """The first answer `check` gives without raising, retried until the deadline (the worker is starting)."""
    deadline = time.monotonic() + within_seconds
    while True:
        try:
            return await check()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_the_worker_process_serves_a_journey_and_stops_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with DevServer(data_dir=data_dir, pick_free_ports=True) as server:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("TRIALFLOW_")}
        environment |= {
            "TRIALFLOW_TEMPORAL_ADDRESS": server.address,
            "TRIALFLOW_DATA_DIR": str(data_dir),
            "TRIALFLOW_LOG_FORMAT": "json",
        }
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "workers",
            preexec_fn=stops_with_the_tests,
            cwd=REPO_ROOT,
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            journey = JourneyClient(client, TASK_QUEUE, "TF-201")
            await journey.start()
            status = await _poll(journey.status)
            assert status.phase is Phase.SCREENING
            store = EventStore(f"sqlite:///{data_dir / 'trial-record.db'}")

            async def recorded() -> list[str]:
                types = [e.event_type for e in store.events_for("TF-201")]
                assert types, "not appended yet"
                return types

            assert await _poll(recorded) == ["patient_enrolled", "eligibility_assessed"]
            store.close()
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(worker.communicate(), timeout=30)
        assert worker.returncode == 0, output.decode()
        assert b"worker stopping" in output
