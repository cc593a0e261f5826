"""Drives one PatientJourneyWorkflow from a test: staff updates, queries, and the server's skipped time."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from config.journey_ids import journey_workflow_id
from config.settling import settle
from domain.journey import commands as cmd
from domain.journey.status_view import PatientStatus
from domain.protocol import PROTOCOL_V1
from domain.site_time import site_date, site_moment
from simulation.journey_steps import (
    Milestone,
    PathPatient,
    amended,
    entered_late,
    infusion,
    path_to,
    send,
    signed,
    thaw_before,
)
from tests.domain.journey_driver import COORDINATOR, screening
from workers.time_skipping import server_time, skip_past_timers_due_now, skip_time
from workflows.journey_messages import JourneyInput, JourneySummary, RecordResult
from workflows.patient_journey import RESEND_TO_NEW_RUN, PatientJourneyWorkflow

RULES = PROTOCOL_V1.schedule


async def settle_then_terminate(client: Client, handle: WorkflowHandle[Any, Any]) -> None:
    """Stop a workflow once nothing of it is in flight: the time-skipping server never releases the hold on its clock
    of a workflow task or activity whose workflow was stopped under it."""
    await settle(client, handle.id)
    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace=client.namespace, execution=WorkflowExecution(workflow_id=handle.id))
    )
    if described.workflow_execution_info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING:
        await handle.terminate("test finished")


class JourneyClient:
    def __init__(self, client: Client, task_queue: str, study_id: str, env: WorkflowEnvironment | None = None) -> None:
        self.client = client
        self.env = env
        self.task_queue = task_queue
        self.study_id = study_id
        self.handle: WorkflowHandle[PatientJourneyWorkflow, JourneySummary] = client.get_workflow_handle_for(
            PatientJourneyWorkflow.run, journey_workflow_id(study_id)
        )

    # ------------------------------------------------------------ time

    async def now(self) -> datetime:
        assert self.env is not None
        return await server_time(self.env)

    async def today(self) -> date:
        return site_date(await self.now(), RULES)

    async def move_to(self, day: date, hour: int = 9) -> None:
        """Skip the server's clock to `hour`:00 at the site on `day`; the workflow's timers fire on the way."""
        await self.skip_to(site_moment(day, hour, RULES))

    async def skip_to(self, moment: datetime) -> None:
        assert self.env is not None
        delta = moment - await self.now()
        if delta > timedelta(0):
            await skip_time(self.env, delta)
            await skip_past_timers_due_now(self.env, [self.handle.id])

    # ------------------------------------------------------------ messages

    async def start(
        self, screened_on: date | None = None, protocol_version: str | None = None, **screening_overrides: Any
    ) -> None:
        """Enrolled as screened on `screened_on` (by default the server's today, or the real one without a server),
        under `protocol_version` as the client found it in effect (None: as journeys started before amendments)."""
        today = screened_on or (await self.today() if self.env else site_date(datetime.now(UTC), RULES))
        enrollment = cmd.EnrollPatient(
            actor=COORDINATOR,
            study_id=self.study_id,
            # Nine years old on the server's today: the shared time-skipping clock moves on from test to test.
            screening=screening(
                **{
                    "screening_date": today,
                    "date_of_birth": today - timedelta(days=9 * 365 + 30),
                    **screening_overrides,
                }
            ),
        )
        await self.client.start_workflow(
            PatientJourneyWorkflow.run,
            JourneyInput(study_id=self.study_id, enrollment=enrollment, protocol_version=protocol_version),
            id=journey_workflow_id(self.study_id),
            task_queue=self.task_queue,
        )
        # Not the handle start_workflow returns: that one is pinned to the first run, and journeys continue-as-new.

    async def do(self, command: cmd.StaffCommand, update_id: str | None = None, sign: bool = True) -> RecordResult:
        """Send a command, signed now by its actor when its step may be signed (unless `sign` is False or it is
        signed already); resent with the same id if it reached a run that had just continued-as-new."""
        update_id = update_id or str(uuid.uuid4())
        if sign and command.signature is None:
            command = signed(command, await self.now() if self.env else datetime.now(UTC))
        for attempt in range(5):
            try:
                return await self.handle.execute_update(PatientJourneyWorkflow.record, command, id=update_id)
            except RPCError as error:
                if error.status is not RPCStatusCode.NOT_FOUND or attempt == 4:
                    raise
            except WorkflowUpdateFailedError as error:
                cause = error.cause
                if not isinstance(cause, ApplicationError) or cause.type != RESEND_TO_NEW_RUN or attempt == 4:
                    raise
                await asyncio.sleep(0.1)
        raise AssertionError("unreachable")

    async def settled(self) -> None:
        """On the time-skipping server, wait until the journey has nothing in flight (see `settle`)."""
        if self.env is not None:
            await settle(self.client, self.handle.id)

    async def stop(self) -> None:
        """Terminate the journey, once nothing of it is in flight (see `settle_then_terminate`)."""
        await settle_then_terminate(self.client, self.handle)

    async def status(self) -> PatientStatus:
        await self.settled()
        return await self.handle.query(PatientJourneyWorkflow.status)

    # ------------------------------------------------------------ the path to infusion

    async def to_infusion(self, protocol_version: str | None = None, **screening_overrides: Any) -> None:
        """Enrolled now, then the shared path on the server's clock until every lymphodepletion dose is given."""
        await self.start(protocol_version=protocol_version, **screening_overrides)
        steps = path_to(Milestone.LYMPHODEPLETED, PathPatient(study_id=self.study_id), await self.now(), PROTOCOL_V1)
        await send(steps, self.do, self.skip_to)

    async def entered_late(self, milestone: Milestone = Milestone.LYMPHODEPLETED) -> int:
        """Enrolled, then the path up to `milestone` as a site entering its records late (and the benchmark) sends
        it: every step dated in the past (the infusion, or where it would fall, an hour ago), all sent now. The
        number of steps sent."""
        infused_at = await self.now() - timedelta(hours=1)
        patient = PathPatient(study_id=self.study_id)
        steps = entered_late(milestone, patient, site_date(infused_at, RULES), PROTOCOL_V1, infused_at=infused_at)
        await self.start(screened_on=site_date(steps[0].at, RULES))
        await send(steps, self.do)
        return len(steps)

    async def thaw(self) -> None:
        """The bag thawed a little before now: the infusion may start at once."""
        await self.do(thaw_before(PathPatient(study_id=self.study_id), await self.now()).command)

    def infusion(self, coi: str, at: datetime, **overrides: Any) -> cmd.RecordInfusion:
        command = infusion(PathPatient(study_id=self.study_id), at, PROTOCOL_V1)
        return amended(command, **{"product_label_coi": coi, **overrides})

    async def infuse(self, days_after_lymphodepletion: int = 2) -> date:
        status = await self.status()
        infusion_item = next(d for d in status.due if d.code == "INFUSION")
        assert infusion_item.window_opens is not None and status.chain_of_identity is not None
        last_dose_on = infusion_item.window_opens - timedelta(days=PROTOCOL_V1.infusion.min_days_after_lymphodepletion)
        await self.move_to(last_dose_on + timedelta(days=days_after_lymphodepletion))
        await self.thaw()
        await self.do(self.infusion(status.chain_of_identity, await self.now()))
        return await self.today()
