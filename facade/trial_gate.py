"""The facade's side of the TrialWorkflow: enrollment asks it for admission first, a lymphodepletion not yet begun
waits while the stopping rule has paused the trial, and `trial status` reads it."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from config.journey_ids import trial_workflow_id
from domain.journey import commands as cmd
from domain.protocol import TrialProtocol
from domain.trial.reports import DsmbDecision
from domain.trial.status import TrialStatus
from facade.errors import CommandRefused
from workflows.trial_messages import AdmissionRequest, TrialInput
from workflows.trial_workflow import DSMB_DECISION_REFUSED, TrialWorkflow


class TrialGate:
    def __init__(
        self, temporal: Client, protocol: TrialProtocol, task_queue: str, accrual_target_infused: int | None = None
    ) -> None:
        self._temporal = temporal
        self._identifier = protocol.accrual.trial_identifier
        self._task_queue = task_queue
        self._accrual_target = accrual_target_infused

    async def _trial(self) -> WorkflowHandle[TrialWorkflow, None]:
        """The trial's workflow, started if it is not running yet (the first enrollment or status asks)."""
        return await self._temporal.start_workflow(
            TrialWorkflow.run,
            TrialInput(trial_identifier=self._identifier, accrual_target_infused=self._accrual_target),
            id=trial_workflow_id(self._identifier, self._task_queue),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def admit(self, study_id: str) -> None:
        """Raises CommandRefused with every reason the trial gives (paused, closed, full)."""
        trial = await self._trial()
        result = await trial.execute_update(TrialWorkflow.admit, AdmissionRequest(study_id=study_id))
        if not result.admitted:
            raise CommandRefused(study_id, list(result.reasons))

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
            raise

    async def status(self) -> TrialStatus:
        trial = await self._trial()
        return await trial.query(TrialWorkflow.status)

    async def check_lymphodepletion(self, study_id: str, command: cmd.StaffCommand, doses_given: int) -> None:
        """A prescription, or the first dose, waits while the trial is paused; a lymphodepletion under way goes on,
        and so does every correction."""
        starting = isinstance(command, cmd.PrescribeLymphodepletion) or (
            isinstance(command, cmd.RecordLymphodepletionDose) and doses_given == 0
        )
        if not starting or getattr(command, "correction", None) is not None:
            return
        refusal = (await self.status()).lymphodepletion_refused_because
        if refusal is not None:
            raise CommandRefused(study_id, [refusal])
