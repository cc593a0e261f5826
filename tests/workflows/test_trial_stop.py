"""The DSMB stops the trial, on the time-skipping server: every journey still on study hears of it from the trial's
workflow. A patient not yet infused leaves the study (the next treatment step refused with the reason); an infused
one keeps the safety follow-up, the stop shown in the status and the timeline; the investigator and the coordinator
are told; the same decision sent again changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from domain.journey import commands as cmd
from domain.journey.notifications import Notification, Topic, Urgency
from domain.journey.phases import ExitReason, Phase
from domain.journey.status_view import PatientStatus
from domain.protocol import PROTOCOL_V1
from domain.roles import Role
from domain.trial.reports import DsmbOutcome
from domain.trial.state import Enrollment
from notifications import ChannelKind, Notifier
from records import EventStore
from records.deliveries import DeliveryLedger
from tests.domain.journey_driver import PHYSICIAN, crs_findings
from tests.notifications.people import webhook_directory
from tests.waiting import poll
from tests.workflows.journey_client import JourneyClient
from tests.workflows.test_reconciliation import RecordingChannel
from tests.workflows.test_trial_workflow import Trial, signed_decision
from workers.worker import journey_worker
from workflows.patient_journey import PatientJourneyWorkflow
from workflows.trial_messages import TrialInput, trial_workflow_id
from workflows.trial_workflow import TrialWorkflow


@pytest_asyncio.fixture
async def site_trial(own_time_skipping_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Trial]:
    """The protocol's trial on a worker of its own (its journeys report to it), ended with the worker."""
    store = EventStore(f"sqlite:///{tmp_path / 'trial-record.db'}")
    store.migrate()
    channel = RecordingChannel()
    directory = webhook_directory(lambda role: f"https://hooks.example.org/{role.value}")
    notifier = Notifier(directory, DeliveryLedger(store.engine), {ChannelKind.WEBHOOK: channel})
    task_queue = f"trial-stop-{uuid.uuid4()}"
    identifier = PROTOCOL_V1.accrual.trial_identifier
    client = own_time_skipping_env.client
    async with journey_worker(client, store, task_queue=task_queue, notifier=notifier):
        handle = await client.start_workflow(
            TrialWorkflow.run,
            TrialInput(trial_identifier=identifier),
            id=trial_workflow_id(identifier, task_queue),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        yield Trial(own_time_skipping_env, channel, handle, task_queue)
    store.close()


def stop_notes(trial: Trial, study_id: str) -> list[Notification]:
    return [n for n, _ in trial.channel.sent if n.topic is Topic.TRIAL_STOPPED and n.study_id == study_id]


async def test_a_dsmb_stop_takes_the_patient_not_yet_infused_off_study_and_keeps_the_infused_in_follow_up(
    site_trial: Trial,
) -> None:
    trial = site_trial
    client = trial.env.client
    infused = JourneyClient(client, trial.task_queue, "TF-351", trial.env)
    waiting = JourneyClient(client, trial.task_queue, "TF-352", trial.env)
    try:
        for journey in (infused, waiting):  # enrollment asks the trial first
            assert (await trial.admit(journey.study_id)).admitted
        await infused.to_infusion()
        await infused.infuse()
        await waiting.to_infusion()  # lymphodepleted, awaiting the infusion
        await trial.status_when("the infusion counted", lambda s: s.infused == 1)

        decision = await signed_decision(trial, DsmbOutcome.STOP)
        stopped = await trial.decide(decision)
        assert stopped.enrollment is Enrollment.CLOSED and stopped.closed_because == "the DSMB stopped the trial"

        async def off_study() -> PatientStatus | None:
            status = await waiting.status()
            return status if status.phase is Phase.OFF_STUDY else None

        gone = await poll(off_study, "the patient not yet infused off study")
        assert gone.exit is not None and gone.exit.reason is ExitReason.TRIAL_STOPPED
        assert decision.decision_id in gone.exit.details

        # Its journey is over (no safety report open): no further step reaches it (the decider's refusal, with the
        # reason, is tests/domain/test_journey_exits.py's).
        async def ended() -> bool | None:
            described = await client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace=client.namespace, execution=WorkflowExecution(workflow_id=waiting.handle.id)
                )
            )
            completed = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
            return True if described.workflow_execution_info.status == completed else None

        await poll(ended, "the journey of the patient off study ended")

        async def stop_shown() -> PatientStatus | None:
            status = await infused.status()
            return status if status.trial_stopped_by_decision is not None else None

        kept = await poll(stop_shown, "the stop shown in the infused patient's status")
        assert kept.trial_stopped_by_decision == decision.decision_id and kept.exit is None
        assert kept.phase not in (Phase.OFF_STUDY, Phase.COMPLETED) and kept.due  # the follow-up goes on
        # Safety follow-up is still recorded: a toxicity assessment is taken.
        grade_2 = crs_findings(max_temperature_c=39.0, hypotension=True)
        await infused.do(cmd.AssessCrs(actor=PHYSICIAN, assessed_at=await infused.now(), findings=grade_2))
        timeline = await infused.handle.query(PatientJourneyWorkflow.timeline)
        [entry] = [e for e in timeline if e.type == "trial_stopped"]
        assert (entry.actor_user_id, entry.actor_role) == ("dsmb.chair", "dsmb")

        # The investigator and the coordinator are told: at once for the patient whose treatment stops.
        async def told() -> list[Notification] | None:
            notes = stop_notes(trial, "TF-351") + stop_notes(trial, "TF-352")
            return notes if len(notes) == 4 else None

        notes = await poll(told, "the investigator and coordinator told of each patient")
        assert {(n.study_id, n.role) for n in notes} == {
            (sid, role) for sid in ("TF-351", "TF-352") for role in (Role.INVESTIGATOR, Role.RESEARCH_COORDINATOR)
        }
        assert {n.urgency for n in stop_notes(trial, "TF-352")} == {Urgency.IMMEDIATE}
        assert "off study" in stop_notes(trial, "TF-352")[0].body
        assert "safety follow-up goes on" in stop_notes(trial, "TF-351")[0].body

        # The trial counts the exit; the same decision again changes nothing anywhere.
        await trial.status_when("the exit reported", lambda s: s.admitted == 2 and s.infused == 1)
        again = await trial.decide(decision)
        assert [d.decision_id for d in again.decisions] == [decision.decision_id]
        await infused.settled()
        for journey in (infused, waiting):  # a completed workflow still answers queries
            entries = await journey.handle.query(PatientJourneyWorkflow.timeline)
            assert [e.type for e in entries].count("trial_stopped") == 1
    finally:
        for journey in (infused, waiting):
            await journey.stop()
