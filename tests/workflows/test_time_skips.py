"""A skip on the time-skipping server lands past the moment asked for, so that a workflow's timer due at that moment
but started a few milliseconds late (its delay counts from the task's start) has fired when the test or the demo
sends its next step. Landing on the moment itself, such a timer fired in real time under the next step's workflow
task, which cancelled it; the server refused the cancel and never redelivered the task, and the journey hung
(workers/time_skipping.py, PAST_THE_MOMENT)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Final, cast

import pytest
from google.protobuf.empty_pb2 import Empty
from temporalio import workflow
from temporalio.api.testservice.v1 import GetCurrentTimeResponse, SleepRequest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workers.time_skipping import PAST_THE_MOMENT, SKIP_ATTEMPTS, TimeSkippingStalled, skip_time

LATE = timedelta(milliseconds=200)  # how late a loaded worker's task may start a timer


@workflow.defn(sandboxed=False)
class TimerStartedLate:
    @workflow.run
    async def run(self, due_in_seconds: float) -> None:
        await workflow.sleep(due_in_seconds)


async def test_a_timer_started_late_for_the_moment_skipped_to_has_fired_when_the_skip_returns(
    own_time_skipping_env: WorkflowEnvironment,
) -> None:
    env = own_time_skipping_env
    assert LATE < PAST_THE_MOMENT
    task_queue = f"time-skips-{uuid.uuid4()}"
    skip_by = timedelta(days=28)
    async with Worker(env.client, task_queue=task_queue, workflows=[TimerStartedLate]):
        handle = await env.client.start_workflow(
            TimerStartedLate.run, (skip_by + LATE).total_seconds(), id=f"late-{uuid.uuid4()}", task_queue=task_queue
        )
        await skip_time(env, skip_by)
        history = await handle.fetch_history()
        fired = [e for e in history.events if e.HasField("timer_fired_event_attributes")]
        assert len(fired) == 1, "the timer due just after the moment skipped to has not fired"
        await handle.result()


class BreakingTestService:
    """The test server's clock and skips, whose connection breaks under the first `breaks` skips: after the server
    moved its clock (`moved_first`), or before."""

    def __init__(self, breaks: int, moved_first: bool, status: RPCStatusCode = RPCStatusCode.INTERNAL) -> None:
        self.now = datetime(2026, 12, 7, 9, tzinfo=UTC)
        self.breaks = breaks
        self.moved_first = moved_first
        self.status = status
        self.skips: list[timedelta] = []

    async def get_current_time(self, _request: Empty, retry: bool = False) -> GetCurrentTimeResponse:
        response = GetCurrentTimeResponse()
        response.time.FromDatetime(self.now)
        return response

    async def unlock_time_skipping_with_sleep(self, request: SleepRequest, **_call_options: object) -> None:
        duration = request.duration.ToTimedelta()
        self.skips.append(duration)
        broken = len(self.skips) <= self.breaks
        if self.moved_first or not broken:
            self.now += duration
        if broken:
            raise RPCError("h2 protocol error: http2 error", self.status, b"")


def env_of(service: BreakingTestService) -> WorkflowEnvironment:
    return cast(WorkflowEnvironment, SimpleNamespace(client=SimpleNamespace(test_service=service)))


async def test_a_skip_whose_connection_broke_after_the_clock_moved_is_not_taken_twice() -> None:
    service = BreakingTestService(breaks=1, moved_first=True)
    began = service.now
    await skip_time(env_of(service), timedelta(days=1))
    assert service.now == began + timedelta(days=1) + PAST_THE_MOMENT
    assert service.skips == [timedelta(days=1) + PAST_THE_MOMENT]


async def test_a_skip_whose_connection_broke_before_the_clock_moved_is_asked_for_again() -> None:
    service = BreakingTestService(breaks=2, moved_first=False)
    began = service.now
    await skip_time(env_of(service), timedelta(days=1))
    assert service.now == began + timedelta(days=1) + PAST_THE_MOMENT
    assert len(service.skips) == SKIP_ATTEMPTS


async def test_a_skip_refused_otherwise_or_broken_every_time_raises() -> None:
    refused = BreakingTestService(breaks=1, moved_first=False, status=RPCStatusCode.INVALID_ARGUMENT)
    with pytest.raises(RPCError):
        await skip_time(env_of(refused), timedelta(days=1))
    assert len(refused.skips) == 1
    broken = BreakingTestService(breaks=SKIP_ATTEMPTS, moved_first=False)
    with pytest.raises(RPCError):
        await skip_time(env_of(broken), timedelta(days=1))
    assert len(broken.skips) == SKIP_ATTEMPTS


class StallingTestService:
    """A test server whose skip never returns: its clock stands still (`jumps` None), or jumps an hour at each read
    while the skip completes after `completes_after` reads (a slow skip, still skipping)."""

    def __init__(self, jumps: timedelta | None = None, completes_after: int | None = None) -> None:
        self.now = datetime(2026, 12, 7, 9, tzinfo=UTC)
        self.jumps = jumps
        self.completes_after = completes_after
        self.reads = 0
        self.skip_cancelled = False
        self._skipped = asyncio.Event()

    async def get_current_time(self, _request: Empty, retry: bool = False) -> GetCurrentTimeResponse:
        self.reads += 1
        if self.jumps is not None:
            self.now += self.jumps
        if self.completes_after is not None and self.reads >= self.completes_after:
            self._skipped.set()
        response = GetCurrentTimeResponse()
        response.time.FromDatetime(self.now)
        return response

    async def unlock_time_skipping_with_sleep(self, _request: SleepRequest, **_call_options: object) -> None:
        try:
            await self._skipped.wait()
        except asyncio.CancelledError:
            self.skip_cancelled = True
            raise


WATCHED: Final = {"stalled_after": timedelta(seconds=0.3), "watch_every": timedelta(seconds=0.05)}


async def test_a_skip_whose_server_stopped_skipping_is_given_up_with_a_reason() -> None:
    service = StallingTestService()
    began = service.now
    with pytest.raises(TimeSkippingStalled) as stalled:
        await skip_time(env_of(service), timedelta(days=1), **WATCHED)
    assert stalled.value.at == began
    assert stalled.value.until == began + timedelta(days=1) + PAST_THE_MOMENT
    assert "stopped skipping time" in str(stalled.value) and "1 day, 0:00:05 short" in str(stalled.value)
    assert service.skip_cancelled  # the call is not left waiting on a server given up


async def test_a_slow_skip_whose_clock_still_jumps_is_waited_for() -> None:
    service = StallingTestService(jumps=timedelta(hours=1), completes_after=20)  # 20 reads: about 1 s of watching
    await skip_time(env_of(service), timedelta(days=1), **WATCHED)
    assert service.reads >= 20 and not service.skip_cancelled
