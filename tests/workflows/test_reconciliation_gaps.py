"""The reconciliation on the dev server also finds the two journeys finding 3 of issue 14 left unseen: a journey whose
first workflow task keeps failing (it recorded nothing, so the record never named it), and an enrolled patient whose
workflow is gone. Each is an urgent alert to supervisors."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest_asyncio
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from activities.reconciliation import ReconcileJourneyInput, ReconciliationActivities
from config.journey_ids import journey_workflow_id
from domain.journey.notifications import Urgency
from domain.journey.reconciliation import FAILING_TASK_ATTEMPTS, Mismatch, MismatchKind, supervisor_alert
from security.data_converter import encrypted_data_converter
from security.keys import PayloadKeyring, new_key
from tests.facade.journeys import enrollment
from tests.servers import Stack
from tests.waiting import poll
from workflows.journey_messages import JourneyInput
from workflows.patient_journey import PatientJourneyWorkflow
from workflows.reconciliation import ReconciliationInput, ReconciliationWorkflow


@pytest_asyncio.fixture(loop_scope="session")
async def failing_journey(stack: Stack) -> AsyncIterator[str]:
    """A journey started past the trial client, in an encoding its worker cannot read: its first workflow task
    fails again and again, and it records nothing (as one over Temporal's payload limit did)."""
    keyring = PayloadKeyring("k-unknown", {"k-unknown": base64.b64decode(new_key())})
    unreadable = await Client.connect(stack.server.address, data_converter=encrypted_data_converter(keyring))
    study_id = "RG-001"
    handle: WorkflowHandle[PatientJourneyWorkflow, object] = await unreadable.start_workflow(
        PatientJourneyWorkflow.run,
        JourneyInput(study_id=study_id, enrollment=enrollment(study_id)),
        id=journey_workflow_id(study_id),
        task_queue=stack.task_queue,
    )
    try:
        yield study_id
    finally:
        await stack.temporal.get_workflow_handle(handle.id).terminate(reason="test over")


def activities(stack: Stack) -> ReconciliationActivities:
    return ReconciliationActivities(stack.temporal, stack.store, unrecorded_grace=timedelta(0))


async def mismatches(stack: Stack, study_id: str) -> list[Mismatch]:
    request = ReconcileJourneyInput(study_id=study_id, as_of=datetime.now(UTC))
    return list((await activities(stack).reconcile_journey(request)).mismatches)


async def test_a_running_journey_that_recorded_nothing_is_checked_and_its_failing_task_alerts_at_once(
    stack: Stack, failing_journey: str
) -> None:
    async def listed() -> tuple[str, ...] | None:
        found = (await activities(stack).journeys_to_reconcile()).study_ids
        return found if failing_journey in found else None

    await poll(listed, "the unrecorded journey among those to reconcile (visibility is eventually consistent)")
    # Not while it is young: an enrollment on its way is given time.
    young = ReconciliationActivities(stack.temporal, stack.store)
    assert failing_journey not in (await young.journeys_to_reconcile()).study_ids

    async def failed_often() -> bool | None:
        described = await stack.temporal.get_workflow_handle(journey_workflow_id(failing_journey)).describe()
        attempt = described.raw_description.pending_workflow_task.attempt
        return True if attempt >= FAILING_TASK_ATTEMPTS else None

    await poll(failed_often, "the workflow task failing again and again")
    found = await mismatches(stack, failing_journey)
    [failing] = [m for m in found if m.kind is MismatchKind.WORKFLOW_TASK_FAILING]
    assert failing.urgent and supervisor_alert(failing).urgency is Urgency.IMMEDIATE
    assert "failed" in failing.detail and "times in a row" in failing.detail


async def test_an_enrolled_patient_whose_workflow_is_gone_alerts_supervisors_at_once(stack: Stack) -> None:
    study_id = "RG-002"
    await stack.trial.enroll(enrollment(study_id))
    workflow_id = journey_workflow_id(study_id)
    await stack.temporal.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace=stack.temporal.namespace, workflow_execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )

    async def gone() -> bool | None:
        try:
            await stack.temporal.get_workflow_handle(workflow_id).describe()
        except RPCError:
            return True
        return None

    await poll(gone, "the workflow deleted")
    report = await stack.temporal.execute_workflow(
        ReconciliationWorkflow.run,
        ReconciliationInput(study_ids=(study_id,)),
        id=f"reconciliation-{uuid.uuid4()}",
        task_queue=stack.task_queue,
    )
    [found] = report.mismatches
    assert found.kind is MismatchKind.WORKFLOW_NOT_RUNNING and found.urgent
    assert "not found" in found.detail and "nothing reminds staff" in found.detail
    assert report.alerted == (found.key,) and not report.undelivered
