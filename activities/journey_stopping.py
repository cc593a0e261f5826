"""The TrialWorkflow tells each journey still on study that the DSMB stopped the trial: an update to the journey
(sealed by the worker's client, as every update is), retried by the trial until the journey has it. Once per decision
and patient: the update id is the decision's, the journey records the stop once."""

from __future__ import annotations

from enum import StrEnum

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from config.journey_ids import journey_workflow_id
from domain.identifiers import StudyId
from domain.journey.commands import StopForTrial
from domain.protocol import FrozenModel
from domain.roles import Actor

# Named, not imported: activities sit below workflows.
JOURNEY_WORKFLOW = "PatientJourneyWorkflow"
TRIAL_STOPPED_UPDATE = "trial_stopped"
COMMAND_REJECTED = "CommandRejected"


class StopJourneyRequest(FrozenModel):
    study_id: StudyId
    decision_id: str
    decided_by: Actor  # the board member who signed the decision


class StopOutcome(StrEnum):
    TOLD = "told"  # the journey recorded the stop (or had already)
    NO_JOURNEY = "no_journey"  # no running journey: never started, finished, or ended
    REFUSED = "refused"  # the journey refused it for good (its reasons logged)


def update_id_for(decision_id: str) -> str:
    return f"trial-stopped/{decision_id}"


class JourneyStopping:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name="stop_journey_for_trial")
    async def stop_journey(self, request: StopJourneyRequest) -> StopOutcome:
        handle = self._client.get_workflow_handle(journey_workflow_id(request.study_id))
        command = StopForTrial(actor=request.decided_by, decision_id=request.decision_id)
        try:
            await handle.execute_update(TRIAL_STOPPED_UPDATE, command, id=update_id_for(request.decision_id))
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return StopOutcome.NO_JOURNEY
            raise  # the server is away: retried
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == COMMAND_REJECTED:
                activity.logger.error("trial stop refused by %s's journey: %s", request.study_id, cause.message)
                return StopOutcome.REFUSED
            raise  # e.g. a seal refused (clocks apart) or a journey moving to a new run: retried
        return StopOutcome.TOLD
