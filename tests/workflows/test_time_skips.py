"""A skip on the time-skipping server lands past the moment asked for, so that a workflow's timer due at that moment
but started a few milliseconds late (its delay counts from the task's start) has fired when the test or the demo
sends its next step. Landing on the moment itself, such a timer fired in real time under the next step's workflow
task, which cancelled it; the server refused the cancel and never redelivered the task, and the journey hung
(workers/time_skipping.py, PAST_THE_MOMENT)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workers.time_skipping import PAST_THE_MOMENT, skip_time

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
