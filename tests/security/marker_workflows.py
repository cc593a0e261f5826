"""Tiny workflows that carry a caller's marker string through every kind of payload Temporal stores: workflow
input and result, activity input and result, update argument and result, and failure messages and details.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError


class Marked(BaseModel):
    """A payload standing in for patient data: the marker must never be readable in Temporal's storage."""

    marker: str


@activity.defn
async def echo_marker(value: Marked) -> Marked:
    return Marked(marker=f"echoed {value.marker}")


@activity.defn
async def fail_with_marker(value: Marked) -> None:
    raise ApplicationError(f"activity failed for {value.marker}", value, non_retryable=True)


@workflow.defn
class MarkerRoundTripWorkflow:
    """Echoes the marker through an activity, waits for an update carrying it, and returns it."""

    def __init__(self) -> None:
        self._noted: Marked | None = None

    @workflow.run
    async def run(self, value: Marked) -> Marked:
        echoed = await workflow.execute_activity(echo_marker, value, start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self._noted is not None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self._noted is not None
        return Marked(marker=f"{echoed.marker} and {self._noted.marker}")

    @workflow.update
    async def note(self, value: Marked) -> Marked:
        self._noted = value
        return Marked(marker=f"noted {value.marker}")

    @workflow.query
    def noted(self) -> Marked | None:
        return self._noted


@workflow.defn
class MarkerFailureWorkflow:
    """Fails: its activity raises with the marker, then the workflow raises an ApplicationError naming it."""

    @workflow.run
    async def run(self, value: Marked) -> None:
        try:
            await workflow.execute_activity(
                fail_with_marker,
                value,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError as error:
            raise ApplicationError(
                f"the workflow failed for {value.marker}", value, type="MarkerFailure", non_retryable=True
            ) from error
