"""The floor: the least a Temporal workflow with one update and one query costs on this machine.

It holds a counter and nothing else; the benchmark drives it exactly as it drives a patient's journey (same
server, task-queue and worker settings, same data converter), so the journey's figures can be read as ratios.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from bench.floor_messages import FloorInput, FloorState, FloorStep, FloorStepResult

FLOOR_ACTIVITY = "floor_noop"
FLOOR_ACTIVITY_TIMEOUT = timedelta(seconds=30)


@activity.defn(name=FLOOR_ACTIVITY)
def floor_noop(step: FloorStep) -> FloorStepResult:
    """Synchronous, on a thread pool, like the journey's activities: only the round trip is paid."""
    return FloorStepResult(steps_taken=step.number)


@workflow.defn
class FloorWorkflow:
    @workflow.init
    def __init__(self, floor: FloorInput) -> None:
        self._key = floor.key
        self._per_update = floor.per_update
        self._carried = floor.carried  # held, as a journey holds the state its run started from
        self._steps = 0
        self._finished = False

    @workflow.run
    async def run(self, floor: FloorInput) -> FloorState:
        if floor.first_activity:
            await workflow.execute_activity(
                FLOOR_ACTIVITY, FloorStep(number=0), start_to_close_timeout=FLOOR_ACTIVITY_TIMEOUT
            )
        # Open until the benchmark's server goes away, like a journey waiting for its next step.
        await workflow.wait_condition(lambda: self._finished)
        return self.state()

    @workflow.update
    async def step(self, step: FloorStep) -> FloorStepResult:
        if self._per_update == "activity":
            await workflow.execute_activity(FLOOR_ACTIVITY, step, start_to_close_timeout=FLOOR_ACTIVITY_TIMEOUT)
        elif self._per_update == "local_activity":
            await workflow.execute_local_activity(FLOOR_ACTIVITY, step, start_to_close_timeout=FLOOR_ACTIVITY_TIMEOUT)
        self._steps += 1
        return FloorStepResult(steps_taken=self._steps)

    @workflow.query
    def state(self) -> FloorState:
        return FloorState(key=self._key, steps_taken=self._steps)
