"""What each journey's workflow witnesses of the trial record: the head (last sequence and hash) the append activity
returned it, read through the `record_head` query of a running journey or the result of a completed one. Temporal's
history keeps it, outside the record's database."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from config.journey_ids import journey_workflow_id

RECORD_HEAD_QUERY: Final = "record_head"  # PatientJourneyWorkflow.record_head
ANSWER_TIMEOUT: Final = timedelta(seconds=10)
ASKED_AT_ONCE: Final = 8


@dataclass(frozen=True)
class WitnessedHead:
    study_id: str
    sequence: int
    hash: str


@dataclass(frozen=True)
class JourneyHeads:
    """Each journey's head, and the journeys that could not say."""

    heads: tuple[WitnessedHead, ...] = ()
    unanswered: tuple[str, ...] = ()  # the workflow did not answer (no worker, failing, an old worker)
    without_head: tuple[str, ...] = ()  # none: gone past retention, stopped, or started before heads were kept


def _head(study_id: str, value: Any) -> WitnessedHead | None:
    if isinstance(value, dict) and isinstance(value.get("sequence"), int) and isinstance(value.get("hash"), str):
        return WitnessedHead(study_id=study_id, sequence=value["sequence"], hash=value["hash"])
    return None


async def journey_head(client: Client, study_id: str) -> WitnessedHead | None:
    """The head the journey's workflow holds; None when there is none to ask."""
    workflow_id = journey_workflow_id(study_id)
    try:
        described = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
            ),
            timeout=ANSWER_TIMEOUT,
        )
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    info = described.workflow_execution_info
    status = WorkflowExecutionStatus(info.status)
    # As JSON (a dict): the head's model is the append activity's, above this floor.
    handle = client.get_workflow_handle(workflow_id, run_id=info.execution.run_id, result_type=dict)
    if status is WorkflowExecutionStatus.RUNNING:
        return _head(study_id, await handle.query(RECORD_HEAD_QUERY, result_type=dict, rpc_timeout=ANSWER_TIMEOUT))
    if status is WorkflowExecutionStatus.COMPLETED:
        summary = await handle.result(follow_runs=False, rpc_timeout=ANSWER_TIMEOUT)
        return _head(study_id, summary.get("record_head") if isinstance(summary, dict) else None)
    return None  # failed, terminated, timed out: the last signed checkpoint witnesses it


async def journey_heads(client: Client, study_ids: Sequence[str]) -> JourneyHeads:
    """Every journey's head, a few workflows asked at a time."""
    gate = asyncio.Semaphore(ASKED_AT_ONCE)

    async def ask(study_id: str) -> WitnessedHead | Exception | None:
        async with gate:
            try:
                return await journey_head(client, study_id)
            except (RPCError, WorkflowQueryFailedError, WorkflowFailureError, TimeoutError) as error:
                return error

    answers = await asyncio.gather(*(ask(study_id) for study_id in study_ids))
    heads, unanswered, without = [], [], []
    for study_id, answer in zip(study_ids, answers, strict=True):
        if isinstance(answer, Exception):
            unanswered.append(study_id)
        elif answer is None:
            without.append(study_id)
        else:
            heads.append(answer)
    return JourneyHeads(heads=tuple(heads), unanswered=tuple(unanswered), without_head=tuple(without))
