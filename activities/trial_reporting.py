"""Journeys tell the TrialWorkflow what happened: signal-with-start, so the report reaches the trial whether or not
its workflow is running yet; retried by the journey until it does (the trial counts each event id once)."""

from __future__ import annotations

from pydantic import Field
from temporalio import activity
from temporalio.client import Client

from config.journey_ids import trial_workflow_id
from domain.protocol import FrozenModel
from domain.trial.reports import JourneyReport
from domain.trial.state import TrialState

# Named, not imported: activities sit below workflows.
TRIAL_WORKFLOW = "TrialWorkflow"
REPORT_SIGNAL = "report"


class TrialInput(FrozenModel):
    """TrialWorkflow's input, and what it carries across continue-as-new."""

    trial_identifier: str
    carried: TrialState | None = None
    # The protocol's accrual target unless given: a load benchmark's trial admits more patients than a real one.
    accrual_target_infused: int | None = Field(default=None, ge=1)


class TrialReportRequest(FrozenModel):
    trial_identifier: str
    report: JourneyReport


class TrialReporting:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name="report_to_trial")
    async def report_to_trial(self, request: TrialReportRequest) -> None:
        await self._client.start_workflow(
            TRIAL_WORKFLOW,
            TrialInput(trial_identifier=request.trial_identifier),
            id=trial_workflow_id(request.trial_identifier, activity.info().task_queue),
            task_queue=activity.info().task_queue,
            start_signal=REPORT_SIGNAL,
            start_signal_args=[request.report],
        )
