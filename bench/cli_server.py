"""A trial served as under `make run` (dev server, sealed worker, trial record, HTTP API) with one enrolled patient
and a signed-in profile, for `trial status` to be timed against a real answer. The test suite's own starters
(tests/: the API served on a free port, a profile signed in with a token) are the benchmark's dev tools."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.roles import Role
from facade import TrialClient
from security.checkpoints import CheckpointLog
from security.keys import CheckpointKeyring, SealKeyring
from workers.dev_server import DevServer
from workers.worker import journey_worker

BENCH_PATIENT = "TF-90001"
BENCH_USER = "dr.bench"


@asynccontextmanager
async def served_trial(directory: Path) -> AsyncIterator[dict[str, str]]:
    """The environment under which `trial status BENCH_PATIENT` asks the served API as a signed-in investigator."""
    from tests.cli.trial_cli import trial_cli_over_api  # the suite's starters: dev tools, as tests.postgres is
    from tests.facade.journeys import enrollment
    from tests.servers import Stack, new_store

    store = new_store(directory)
    try:
        async with DevServer(data_dir=directory, pick_free_ports=True) as server:
            temporal = await Client.connect(server.address, data_converter=pydantic_data_converter)
            task_queue = f"bench-cli-{uuid.uuid4()}"
            seal_keys = SealKeyring.new("bench")
            checkpoints = CheckpointLog(directory / "checkpoints.jsonl", CheckpointKeyring.new("c1"))
            async with journey_worker(
                temporal, store, task_queue=task_queue, seal_keys=seal_keys, checkpoints=checkpoints
            ):
                trial = TrialClient(
                    temporal, store, task_queue=task_queue, seal_keys=seal_keys, checkpoints=checkpoints
                )
                stack = Stack(server, temporal, store, task_queue, trial, directory, seal_keys, checkpoints)
                await trial.enroll(enrollment(BENCH_PATIENT))
                async with trial_cli_over_api(stack, directory / "api") as anonymous:
                    signed_in = await anonymous.signed_in(BENCH_USER, Role.INVESTIGATOR)
                    yield signed_in.env
    finally:
        store.close()
