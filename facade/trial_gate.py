"""The facade's side of the TrialWorkflow: enrollment asks it for admission first, a lymphodepletion not yet begun
waits while the stopping rule has paused the trial, and `trial status` reads it."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from config.journey_ids import trial_workflow_id
from config.settling import server_skips_time, settle
from domain.journey import commands as cmd
from domain.protocol import TrialProtocol
from domain.trial.reports import DsmbDecision
from domain.trial.status import TrialStatus
from facade.admission_queue import AdmissionQueue
from facade.errors import AdmissionNotAnswered, CommandRefused
from security.command_seal import SEAL_REFUSED
from workflows.trial_messages import AdmissionBatch, AdmissionResult, GateMemo, TrialInput
from workflows.trial_workflow import DSMB_DECISION_REFUSED, GATE_MEMO, TrialWorkflow

# Temporal refuses more than 10 updates in flight on one workflow (the server's default per-workflow limit): enrollments
# sent at once beyond that failed with ResourceExhausted (docs/performance.md). Each client keeps its admissions below
# it, leaving room for the DSMB's decisions, and sends those that wait meanwhile together (facade/admission_queue.py),
# up to a batch small enough for one update's payload and one workflow task.
ADMISSIONS_IN_FLIGHT = 8
ADMISSIONS_PER_BATCH = 64


class TrialGate:
    def __init__(
        self, temporal: Client, protocol: TrialProtocol, task_queue: str, accrual_target_infused: int | None = None
    ) -> None:
        self._temporal = temporal
        self._identifier = protocol.accrual.trial_identifier
        self._task_queue = task_queue
        self._accrual_target = accrual_target_infused
        self._admissions = AdmissionQueue(self._ask_all, ADMISSIONS_IN_FLIGHT, ADMISSIONS_PER_BATCH)
        # The running trial, once started: an admission is then one update, not a start (USE_EXISTING) before it.
        self._running: WorkflowHandle[TrialWorkflow, None] | None = None

    async def _trial(self) -> WorkflowHandle[TrialWorkflow, None]:
        """The trial's workflow, started if it is not running yet (the first enrollment or status asks)."""
        return await self._temporal.start_workflow(
            TrialWorkflow.run,
            TrialInput(trial_identifier=self._identifier, accrual_target_infused=self._accrual_target),
            id=trial_workflow_id(self._identifier, self._task_queue),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def _running_trial(self) -> WorkflowHandle[TrialWorkflow, None]:
        """The trial's workflow by id alone (its newest run, across continue-as-new), started the first time."""
        if self._running is None:
            await self._trial()
            self._running = self._by_id()
        return self._running

    def _by_id(self) -> WorkflowHandle[TrialWorkflow, None]:
        return self._temporal.get_workflow_handle_for(
            TrialWorkflow.run, trial_workflow_id(self._identifier, self._task_queue)
        )

    async def _ask_all(self, study_ids: tuple[str, ...], within: timedelta) -> tuple[AdmissionResult, ...]:
        batch = AdmissionBatch(study_ids=study_ids)
        try:
            trial = await self._running_trial()
            return (await trial.execute_update(TrialWorkflow.admit_all, batch, rpc_timeout=within)).results
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
        # The trial this client knew has ended (stopped, say): start it again and ask once more.
        self._running = None
        trial = await self._running_trial()
        return (await trial.execute_update(TrialWorkflow.admit_all, batch, rpc_timeout=within)).results

    async def admit(self, study_id: str, within: timedelta) -> None:
        """Raises CommandRefused with every reason the trial gives (paused, closed, full); AdmissionNotAnswered when
        it gives none `within` this time (a trial that never began is stopped, so the next start is a fresh one)."""
        seconds = within.total_seconds()
        try:
            result = await self._admissions.ask(study_id, within)
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            self._running = None
            await self._stop_if_never_begun(self._by_id())
            raise AdmissionNotAnswered(study_id, seconds, "no worker took it, or it cannot read it") from None
        except WorkflowUpdateFailedError as error:  # e.g. an admission the worker could not read
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == SEAL_REFUSED:
                raise CommandRefused(study_id, [f"the trial refused the admission's seal: {cause.message}"]) from None
            raise AdmissionNotAnswered(study_id, seconds, f"it failed: {error.cause or error}") from None
        if not result.admitted:
            raise CommandRefused(study_id, list(result.reasons))

    async def _stop_if_never_begun(self, trial: WorkflowHandle[TrialWorkflow, None]) -> None:
        history = await trial.fetch_history()
        if any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in history.events):
            return
        try:
            await trial.terminate(reason="its first workflow task was never completed: the trial never began")
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise

    async def decide(self, decision: DsmbDecision) -> TrialStatus:
        """The DSMB's signed decision; raises CommandRefused with every reason (not the DSMB, not signed, not
        paused). Resending the same decision id answers again and changes nothing."""
        trial = await self._trial()
        try:
            return await trial.execute_update(TrialWorkflow.dsmb_decision, decision, id=decision.decision_id)
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == DSMB_DECISION_REFUSED:
                raise CommandRefused(self._identifier, [str(reason) for reason in cause.details]) from None
            if isinstance(cause, ApplicationError) and cause.type == SEAL_REFUSED:
                refused = f"the trial refused the decision's seal: {cause.message}"
                raise CommandRefused(self._identifier, [refused]) from None
            raise

    async def status(self) -> TrialStatus:
        return await (await self._settled_trial()).query(TrialWorkflow.status)

    async def _settled_trial(self) -> WorkflowHandle[TrialWorkflow, None]:
        trial = await self._trial()
        if await server_skips_time(self._temporal):
            # That server stops skipping time for good after a query that arrives while a run continues as new
            # (config/settling.py): the cohort of 100 failed on it in the benchmark, at the gate of a first dose.
            await settle(self._temporal, trial.id)
        return trial

    async def check_lymphodepletion(self, study_id: str, command: cmd.StaffCommand, doses_given: int) -> None:
        """A prescription, or the first dose, waits while the trial is paused; a lymphodepletion under way goes on,
        and so does every correction."""
        starting = isinstance(command, cmd.PrescribeLymphodepletion) or (
            isinstance(command, cmd.RecordLymphodepletionDose) and doses_given == 0
        )
        if not starting or getattr(command, "correction", None) is not None:
            return
        refusal = await self._lymphodepletion_refusal()
        if refusal is not None:
            raise CommandRefused(study_id, [refusal])

    async def _lymphodepletion_refusal(self) -> str | None:
        """What the trial published in its memo (workflows/trial_workflow.GATE_MEMO): the server answers it without
        a worker. A trial that has not published yet (its first task, or a trial from before it published) is
        asked by a query."""
        trial = await self._running_trial()
        memo = await (await trial.describe()).memo_value(GATE_MEMO, None, type_hint=GateMemo)
        if memo is not None:
            return memo.refused_because
        return await (await self._settled_trial()).query(TrialWorkflow.lymphodepletion_refusal)
