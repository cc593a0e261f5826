"""A journey worker process killed (SIGKILL) while a journey reports a DLT to the TrialWorkflow, on a dev server with
persistent storage and the trial record on PostgreSQL: the DLT is recorded, the report reaches the trial from the
next worker, and the trial counts the DLT exactly once.

Where the kill lands is chosen, not left to chance: a lock on the record's projections holds the append of the DLT
after its events are written but before the activity reports, so the journey has not yet folded the DLT in nor
sent its report when the worker dies (the report is sent only after the append's answer)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy.engine import URL
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateHandle, WorkflowUpdateStage
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.trial_reporting import TrialReportRequest
from config.journey_ids import TASK_QUEUE, journey_workflow_id, trial_workflow_id
from config.settling import settle
from domain.journey import commands as cmd
from domain.protocol import PROTOCOL_V1
from domain.trial.reports import JourneyReport, ReportKind
from domain.trial.status import TrialStatus
from simulation.journey_steps import signed
from tests.domain.journey_driver import PHYSICIAN, crs_findings
from tests.reliability.histories import activity_runs, journey_runs
from tests.reliability.patients import infused_at
from tests.reliability.record_checks import assert_nothing_lost_or_duplicated
from tests.reliability.record_locks import postgres_tables_locked
from tests.reliability.stack import FaultStack, fault_stack
from tests.waiting import eventually
from workflows.journey_messages import RecordResult
from workflows.patient_journey import PatientJourneyWorkflow

# Answered once Temporal gives the killed worker's work to the next one (sticky queue and heartbeat timeouts): this
# bounds a hang; it is not a claim about speed.
ANSWERED_WITHIN = timedelta(minutes=2)
GRADE_4_CRS = crs_findings(max_temperature_c=39.5, hypotension=True, vasopressors_excluding_vasopressin=2)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory, record_database: URL) -> AsyncIterator[FaultStack]:
    async with fault_stack(tmp_path_factory.mktemp("worker-killed-reporting"), record_database) as stack:
        yield stack


async def test_a_worker_killed_while_a_journey_reports_a_dlt_loses_nothing_and_the_trial_counts_it_once(
    stack: FaultStack,
) -> None:
    first = stack.worker("worker-1")
    await first.start()
    await infused_at(stack.trial, "KR-301", datetime.now(UTC) - timedelta(hours=2))
    infused = await trial_status_when(stack, "KR-301 infused, pending", lambda s: s.infused == 1)
    assert [p.study_id for p in infused.pending] == ["KR-301"] and infused.stopping_rule.toxicities == 0

    # The grade-4 CRS (a DLT) accepted and written to the record, and the worker killed before the append could
    # answer: the journey had not folded it in, so its report to the trial was never sent from this worker.
    # Nothing of the journey's in flight first (the infusion day's daily-monitoring check, say): the lock below must
    # hold the DLT's append, not an earlier step's, or the DLT would wait behind it and never be written.
    await settle(stack.temporal, journey_workflow_id("KR-301"))
    written_before = await asyncio.to_thread(stack.store.last_sequence, "KR-301")
    crs = signed(cmd.AssessCrs(actor=PHYSICIAN, assessed_at=datetime.now(UTC), findings=GRADE_4_CRS), datetime.now(UTC))
    with postgres_tables_locked(stack.record_url, "patient_summaries"):
        update = await accepted_update(stack, "KR-301", crs)
        await eventually(lambda: recorded_through(stack, "KR-301", written_before + 1), "the DLT recorded")
        first.kill()
        await first.wait_killed()
    second = stack.worker("worker-2")
    await second.start()
    result = await asyncio.wait_for(update.result(), timeout=ANSWERED_WITHIN.total_seconds())
    stack.trial.accepted["KR-301"].append(result)
    assert result.events[0].type == "crs_assessed"

    counted = await trial_status_when(stack, "the DLT counted", lambda s: s.stopping_rule.toxicities == 1)
    assert counted.evaluable == ("KR-301",) and counted.pending == ()

    # The journey sent the report once, from the new worker; the trial took every delivery of it as one DLT.
    reports = await dlt_reports_sent(stack, "KR-301")
    assert [identity for identity, _ in reports] == [second.identity], reports
    [(_, sent)] = reports
    received = await dlt_reports_received(stack)
    assert received and {r.event_id for r in received} == {sent.event_id}, received
    await assert_nothing_lost_or_duplicated(stack.temporal, stack.store, "KR-301", stack.trial.accepted["KR-301"])
    # Still one after everything settles: a second delivery (a retried signal) would not count again either.
    assert (await stack.trial.trial_status()).stopping_rule.toxicities == 1
    assert await second.stop() == 0


async def accepted_update(
    stack: FaultStack, study_id: str, command: cmd.StaffCommand
) -> WorkflowUpdateHandle[RecordResult]:
    """Send a command and return as soon as the workflow has accepted it (validated, now being applied)."""
    handle = stack.temporal.get_workflow_handle(journey_workflow_id(study_id))
    return await handle.start_update(
        PatientJourneyWorkflow.record, command, id=str(uuid.uuid4()), wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )


async def recorded_through(stack: FaultStack, study_id: str, sequence: int) -> None:
    last = await asyncio.to_thread(stack.store.last_sequence, study_id)
    assert last >= sequence, f"{study_id}: recorded through {last}, not {sequence} yet"


async def trial_status_when(stack: FaultStack, what: str, check: object) -> TrialStatus:
    async def answer() -> TrialStatus:
        status = await stack.trial.trial_status()
        assert callable(check) and check(status), status
        return status

    return await eventually(answer, what, within_seconds=ANSWERED_WITHIN.total_seconds())


async def dlt_reports_sent(stack: FaultStack, study_id: str) -> list[tuple[str, JourneyReport]]:
    """Each report_to_trial activity of the journey that carried a DLT: the worker that completed it, the report."""
    sent = []
    for history in await journey_runs(stack.temporal, study_id):
        for run in activity_runs(history, "report_to_trial"):
            [request] = pydantic_data_converter.payload_converter.from_payloads(
                list(run.input.payloads), [TrialReportRequest]
            )
            assert isinstance(request, TrialReportRequest)
            if request.report.kind is ReportKind.DOSE_LIMITING_TOXICITY:
                assert run.completed, run
                sent.append((run.worker_identity, request.report))
    return sent


async def dlt_reports_received(stack: FaultStack) -> list[JourneyReport]:
    """Every DLT report signal in the trial workflow's history, decrypted."""
    handle = stack.temporal.get_workflow_handle(trial_workflow_id(PROTOCOL_V1.accrual.trial_identifier, TASK_QUEUE))
    history = await handle.fetch_history()
    received = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attributes = event.workflow_execution_signaled_event_attributes
            if attributes.signal_name == "report":
                [report] = await stack.temporal.data_converter.decode(attributes.input.payloads, [JourneyReport])
                if report.kind is ReportKind.DOSE_LIMITING_TOXICITY:
                    received.append(report)
    return received
