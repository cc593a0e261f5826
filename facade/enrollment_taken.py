"""An enrollment is answered once its journey has recorded it, never when Temporal merely accepted the start.

The journey itself is asked (its `enrollment_recorded` query): it appends its enrollment to the trial record before
anything else. A journey that fails before recording (a refused seal, a refused enrollment) is answered with its
reason; one that has not even begun in time (no worker, or a first workflow task that keeps failing) is stopped, so
the study id is free again and nothing is half-created: no started journey that can neither be seen nor enrolled again.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from facade.errors import CommandRefused, EnrollmentNotTaken, TrialError
from observability.logging import get_logger
from security.command_seal import SEAL_REFUSED

# A worker records an enrollment in well under a second; this leaves room for a busy one and a slow database.
ENROLLMENT_TAKEN_WITHIN = timedelta(seconds=15)
FIRST_LOOK_SECONDS = 0.05
LONGEST_WAIT_SECONDS = 0.5
# A query waits for a worker: one that no worker answers (none polls, or its task fails) gives up after this.
QUERY_TIMEOUT = timedelta(seconds=1)
ENROLLMENT_RECORDED_QUERY = "enrollment_recorded"

log = get_logger("facade.enrollment_taken")

Handle = WorkflowHandle[Any, Any]


async def await_enrollment_recorded(temporal: Client, handle: Handle, study_id: str, within: timedelta) -> None:
    """Return once the journey of `study_id` has recorded its enrollment. Raise CommandRefused when it ended without
    recording it; EnrollmentNotTaken when it has not recorded it `within` this time (stopped first, unless it has
    begun: then it records the enrollment as soon as the record takes it, and the study id stays its own)."""
    deadline = time.monotonic() + within.total_seconds()
    delay = FIRST_LOOK_SECONDS
    while True:
        status = WorkflowExecutionStatus((await _described(temporal, handle)).workflow_execution_info.status)
        if status is WorkflowExecutionStatus.COMPLETED:
            return  # a screen failure: recorded, then ended at once
        if status is not WorkflowExecutionStatus.RUNNING:
            raise await _why_it_ended(handle, study_id, status)
        if await _says_recorded(handle):
            return
        if time.monotonic() + delay > deadline:
            break
        await asyncio.sleep(delay)
        delay = min(delay * 2, LONGEST_WAIT_SECONDS)
    seconds = within.total_seconds()
    if (await _described(temporal, handle)).pending_activities:
        # It has begun (its append is under way, the record slow or away): it will record the enrollment.
        log.warning("enrollment_not_yet_recorded", study_id=study_id, seconds=seconds)
        raise EnrollmentNotTaken(study_id, seconds, begun=True)
    await _stop(handle, study_id, within)
    raise EnrollmentNotTaken(study_id, seconds)


async def _described(temporal: Client, handle: Handle) -> DescribeWorkflowExecutionResponse:
    """The journey's latest run as the server describes it, read raw: the SDK's reading fails on a search attribute
    the time-skipping test server keeps unset."""
    return await temporal.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=temporal.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )


async def _says_recorded(handle: Handle) -> bool:
    """The journey's own answer; False while it cannot answer (its first workflow task not done, or failing)."""
    try:
        return bool(await handle.query(ENROLLMENT_RECORDED_QUERY, result_type=bool, rpc_timeout=QUERY_TIMEOUT))
    except WorkflowQueryFailedError:
        return False
    except RPCError as error:
        if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.RESOURCE_EXHAUSTED):
            raise
        return False


async def _why_it_ended(handle: Handle, study_id: str, status: WorkflowExecutionStatus) -> TrialError:
    """The reason a journey ended before recording its enrollment, as a refusal naming it."""
    try:
        await handle.result(follow_runs=False)
    except WorkflowFailureError as failure:
        cause = failure.cause
        if isinstance(cause, ApplicationError) and cause.type == SEAL_REFUSED:
            return CommandRefused(study_id, [f"the journey refused the enrollment's seal: {cause.message}"])
        if isinstance(cause, ApplicationError) and cause.details:
            return CommandRefused(study_id, [str(reason) for reason in cause.details])
        return CommandRefused(study_id, [f"the journey ended before recording the enrollment: {cause or failure}"])
    return CommandRefused(study_id, [f"the journey ended ({status.name.lower()}) before recording the enrollment"])


async def _stop(handle: Handle, study_id: str, within: timedelta) -> None:
    """Terminate the journey that never began (a terminated journey's study id may be enrolled again)."""
    try:
        await handle.terminate(reason=f"the enrollment was not taken within {within.total_seconds():g} s")
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
    log.warning("enrollment_not_taken", study_id=study_id, seconds=within.total_seconds())
