"""An enrollment is answered once its journey has recorded it, never when Temporal merely accepted the start.

The trial record is the witness: the journey appends its enrollment before anything else. A journey that fails
before recording (a refused seal, a refused enrollment) is answered with its reason; one that records nothing in
time (no worker, or a first workflow task that keeps failing) is stopped, so the study id is free again and nothing
is half-created: a started journey that could neither be seen nor enrolled again.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from facade.errors import CommandRefused, EnrollmentNotTaken, TrialError
from observability.logging import get_logger
from records import EventStore
from security.command_seal import SEAL_REFUSED

# A worker records an enrollment in well under a second; this leaves room for a busy one and a slow database.
ENROLLMENT_TAKEN_WITHIN = timedelta(seconds=15)
FIRST_LOOK_SECONDS = 0.05
LONGEST_WAIT_SECONDS = 0.5

log = get_logger("facade.enrollment_taken")


async def await_enrollment_recorded(
    handle: WorkflowHandle[object, object], store: EventStore, study_id: str, within: timedelta
) -> None:
    """Return once the record holds the enrollment of `study_id`; raise CommandRefused when its journey ended
    without recording it, EnrollmentNotTaken (after stopping it) when it recorded nothing `within` this time."""
    deadline = time.monotonic() + within.total_seconds()
    delay = FIRST_LOOK_SECONDS
    while True:
        if await _recorded(store, study_id):
            return
        description = await handle.describe()
        if description.status is not WorkflowExecutionStatus.RUNNING:
            if await _recorded(store, study_id):  # recorded, then ended at once (a screen failure)
                return
            raise await _why_it_ended(handle, study_id, description.status)
        if time.monotonic() + delay > deadline:
            break
        await asyncio.sleep(delay)
        delay = min(delay * 2, LONGEST_WAIT_SECONDS)
    recorded = await _stop(handle, store, study_id, within)
    raise EnrollmentNotTaken(study_id, within.total_seconds(), recorded=recorded)


async def _recorded(store: EventStore, study_id: str) -> bool:
    return bool(await asyncio.to_thread(store.last_sequence, study_id))


async def _why_it_ended(
    handle: WorkflowHandle[object, object], study_id: str, status: WorkflowExecutionStatus | None
) -> TrialError:
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
    shown = status.name.lower() if status is not None else "closed"
    return CommandRefused(study_id, [f"the journey ended ({shown}) before recording the enrollment"])


async def _stop(handle: WorkflowHandle[object, object], store: EventStore, study_id: str, within: timedelta) -> bool:
    """Terminate the journey that recorded nothing (a terminated journey's study id may be enrolled again); whether
    it recorded its enrollment after all, in the moment before it was stopped."""
    try:
        await handle.terminate(reason=f"the enrollment was not recorded within {within.total_seconds():g} s")
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
    if await _recorded(store, study_id):
        # A worker took it just as it was stopped: the reconciliation reports this journey to supervisors.
        log.error("enrollment_recorded_as_its_journey_was_stopped", study_id=study_id)
        return True
    log.warning("enrollment_not_taken", study_id=study_id, seconds=within.total_seconds())
    return False
