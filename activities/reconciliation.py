"""The timer safety net's reads (retried freely): which journeys to check, and each one's workflow and trial record.
The judgement is the domain's (`domain/journey/reconciliation.py`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
from temporalio import activity
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from config import search_attributes as sa
from config.journey_ids import WORKFLOW_ID_PREFIX, journey_workflow_id, study_id_of
from domain.journey.phases import FINAL_PHASES
from domain.journey.reconciliation import (
    FAILING_TASK_ATTEMPTS,
    RUNNING,
    Mismatch,
    MismatchKind,
    WorkflowObservation,
    compare,
    expect_from_record,
)
from domain.journey.status_view import PatientStatus
from domain.protocol import FrozenModel
from records import EventStore, PatientSummary
from records.event_rows import to_event

# How long a record ahead of its workflow is given to be an event in flight (its workflow task not yet run).
RECORD_AHEAD_SETTLE = timedelta(seconds=5)
RECORD_AHEAD_RECHECK = timedelta(milliseconds=200)
STATUS_QUERY_TIMEOUT = timedelta(seconds=30)
# Running journeys, whatever the record says: one whose first workflow task keeps failing has recorded nothing.
RUNNING_JOURNEYS = f"WorkflowId STARTS_WITH '{WORKFLOW_ID_PREFIX}' AND ExecutionStatus = 'Running'"
# A journey that has recorded nothing this long after its start is looked at: the trial client stops an enrollment
# no worker took within seconds (facade/enrollment_taken.py), so one still there is stuck, not on its way.
UNRECORDED_GRACE = timedelta(minutes=1)
# Answers that say the server or the worker is away or busy: retried with the activity (a journey whose query still
# times out after the last attempt is reported as not reconciled), never reported as a mismatch at once.
_TRANSIENT = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.DEADLINE_EXCEEDED,
    }
)

T = TypeVar("T")

log = structlog.get_logger("trialflow.reconciliation")


class JourneysToReconcile(FrozenModel):
    study_ids: tuple[str, ...]


class ReconcileJourneyInput(FrozenModel):
    study_id: str
    as_of: datetime  # the reconciliation's moment: the workflow's clock, the same for every journey


class ReconcileJourneyResult(FrozenModel):
    study_id: str
    mismatches: tuple[Mismatch, ...]


def journey_finished(summary: PatientSummary) -> bool:
    """A summary's patient has ended with no safety report open: their workflow may have closed."""
    open_reports = summary.summary.get("open_expedited_reports")
    return summary.phase in {phase.value for phase in FINAL_PHASES} and not open_reports


class ReconciliationActivities:
    """Reads the trial record (`store`) and the journeys' workflows (`client`, the worker's own)."""

    def __init__(
        self,
        client: Client,
        store: EventStore,
        *,
        record_ahead_settle: timedelta = RECORD_AHEAD_SETTLE,
        unrecorded_grace: timedelta = UNRECORDED_GRACE,
    ):
        self._client = client
        self._store = store
        self._record_ahead_settle = record_ahead_settle
        self._unrecorded_grace = unrecorded_grace

    @activity.defn(name="journeys_to_reconcile")
    async def journeys_to_reconcile(self) -> JourneysToReconcile:
        """Every patient in the record whose journey has not finished (by the supervisors' summaries, which the
        record rebuilds after every append); a patient with no summary yet is checked too; and every running
        journey that has recorded nothing a while after its start (its first workflow task failing, say)."""
        study_ids, summaries = await asyncio.to_thread(
            lambda: (self._store.study_ids(), {s.study_id: s for s in self._store.patient_summaries()})
        )
        unfinished = tuple(
            study_id
            for study_id in study_ids
            if (summary := summaries.get(study_id)) is None or not journey_finished(summary)
        )
        unrecorded = await self._running_without_a_record(set(study_ids))
        return JourneysToReconcile(study_ids=unfinished + unrecorded)

    async def _running_without_a_record(self, in_record: set[str]) -> tuple[str, ...]:
        started_before = datetime.now(UTC) - self._unrecorded_grace
        found: set[str] = set()
        try:
            async for execution in self._client.list_workflows(RUNNING_JOURNEYS):
                study_id = study_id_of(execution.id)
                if study_id and study_id not in in_record and execution.start_time <= started_before:
                    found.add(study_id)
        except RPCError as error:
            if error.status is not RPCStatusCode.UNIMPLEMENTED:
                raise
            # The time-skipping test server lists nothing: only the record's patients are checked there.
            log.warning("running journeys cannot be listed", error=error.message)
        return tuple(sorted(found))

    @activity.defn(name="reconcile_journey")
    async def reconcile_journey(self, request: ReconcileJourneyInput) -> ReconcileJourneyResult:
        mismatches = await self._mismatches(request.study_id, request.as_of)
        if any(m.kind is MismatchKind.RECORD_AHEAD for m in mismatches):
            mismatches = await self._after_events_in_flight(request.study_id, request.as_of)
        for found in mismatches:
            log.warning(
                "journey disagrees with the trial record",
                study_id=found.study_id,
                kind=found.kind.value,
                detail=found.detail,
                key=found.key,
            )
        return ReconcileJourneyResult(study_id=request.study_id, mismatches=tuple(mismatches))

    async def _after_events_in_flight(self, study_id: str, as_of: datetime) -> list[Mismatch]:
        """Look again while the workflow may still be applying what the record already holds."""
        deadline = time.monotonic() + self._record_ahead_settle.total_seconds()
        while True:
            await asyncio.sleep(RECORD_AHEAD_RECHECK.total_seconds())
            mismatches = await self._mismatches(study_id, as_of)
            still_ahead = any(m.kind is MismatchKind.RECORD_AHEAD for m in mismatches)
            if not still_ahead or time.monotonic() >= deadline:
                return mismatches
            activity.heartbeat()

    async def _mismatches(self, study_id: str, as_of: datetime) -> list[Mismatch]:
        observed = await self.observe(study_id)  # first: see the module's docstring
        recorded = await asyncio.to_thread(self._store.events_for, study_id)
        expected = expect_from_record(study_id, [to_event(e) for e in recorded], as_of)
        return compare(expected, observed)

    async def observe(self, study_id: str) -> WorkflowObservation:
        """The journey's workflow as it shows itself: its latest run, its status query, its search attributes."""
        workflow_id = journey_workflow_id(study_id)
        try:
            described = await self._client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace=self._client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
                )
            )
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return WorkflowObservation(study_id=study_id, execution_status=None)
            raise
        info = described.workflow_execution_info
        execution_status = WorkflowExecutionStatus(info.status)
        attributes = info.search_attributes.indexed_fields
        observation = WorkflowObservation(
            study_id=study_id,
            execution_status=execution_status.name.lower(),
            run_id=info.execution.run_id,
            workflow_task_attempt=(
                described.pending_workflow_task.attempt if described.HasField("pending_workflow_task") else 0
            ),
            phase_attribute=search_attribute(attributes, sa.TRIAL_PHASE.name, str),
            overdue_attribute=search_attribute(attributes, sa.OVERDUE.name, bool),
            next_due_date_attribute=search_attribute(attributes, sa.NEXT_DUE_DATE.name, datetime.fromisoformat),
            last_reset_at=_last_reset_at(described),
        )
        if execution_status is not WorkflowExecutionStatus.RUNNING:
            return observation
        if observation.workflow_task_attempt >= FAILING_TASK_ATTEMPTS:
            # Its task keeps failing: a query would wait for an answer that cannot come (until it times out).
            return observation.model_copy(update={"status_error": "its workflow task keeps failing"})
        assert observation.execution_status == RUNNING
        handle = self._client.get_workflow_handle(workflow_id, run_id=info.execution.run_id)
        try:
            status = await handle.query("status", result_type=PatientStatus, rpc_timeout=STATUS_QUERY_TIMEOUT)
        except WorkflowQueryFailedError as error:
            return observation.model_copy(update={"status_error": f"the query failed: {error}"})
        except RPCError as error:
            if error.status in _TRANSIENT:
                raise
            code = error.status.name if error.status else "error"
            return observation.model_copy(update={"status_error": f"{code}: {error.message}"})
        return observation.model_copy(update={"status": status})


def _last_reset_at(described: DescribeWorkflowExecutionResponse) -> datetime | None:
    """When the workflow was last reset (`temporal workflow reset`, the Web UI), as Temporal itself records it."""
    if not described.HasField("workflow_extended_info"):
        return None
    extended = described.workflow_extended_info
    if not extended.HasField("last_reset_time"):
        return None
    return extended.last_reset_time.ToDatetime(tzinfo=UTC)


def search_attribute(attributes: Mapping[str, Payload], name: str, parse: Callable[[Any], T]) -> T | None:
    """One search attribute's value, read from its JSON payload (never encrypted); None when unset. Read here rather
    than by the SDK, which fails on the unset value (no data) that the time-skipping test server keeps."""
    payload = attributes.get(name)
    if payload is None or not payload.data:
        return None
    value = json.loads(payload.data)
    if isinstance(value, list):  # servers may wrap a single value in a list
        value = value[0] if value else None
    return None if value is None else parse(value)
