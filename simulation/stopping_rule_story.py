"""The demo's safety story: a small cohort with a trial of its own (its own task queue and record, so the main cohort's
report is untouched) in which two infused children have a grade 3 CRS (a dose-limiting toxicity each). The stopping
rule fires: enrollment pauses at once, the investigator, the supervisor and the DSMB are told, the next enrollment and
a pending lymphodepletion are refused with the reason; then the DSMB's signed decision resumes enrollment, and both
go through."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from config.journey_ids import trial_workflow_id
from config.settling import settle
from domain.journey import commands as cmd
from domain.journey.events import ExpeditedReportOpened
from domain.journey.notifications import Notification, Topic
from domain.protocol import FrozenModel, TrialProtocol
from domain.roles import Actor, Role
from domain.signature import SignatureMeaning, sign
from domain.site_time import site_date, site_moment
from domain.trial.reports import DsmbDecision, DsmbOutcome
from domain.trial.state import DsmbRecord
from domain.trial.status import TrialStatus
from facade import CommandRefused, TrialClient
from notifications import ChannelKind, Notifier
from notifications.directory import ADDRESSABLE_ROLES, StaffDirectory, parse_staff_directory
from notifications.routing import PlannedDelivery
from records import EventStore
from records.deliveries import DeliveryLedger
from records.engine import create_record_engine
from simulation.cohort import crs_findings_for
from simulation.journey_steps import Milestone, PathPatient, enrollment, path_to, prescription, signed
from simulation.server_clock import ServerClock
from workers.time_skipping import server_time
from workers.worker import journey_worker

# Two children infused, each with a DLT; one waiting to start lymphodepletion; one screened while enrollment is paused.
FIRST_DLT, WAITING, SECOND_DLT, LATECOMER = "TF-5001", "TF-5002", "TF-5003", "TF-5004"
STAFF_USER_IDS = "safety-{role}"
DSMB_MEMBER = Actor(user_id=STAFF_USER_IDS.format(role=Role.DSMB.value), role=Role.DSMB)
DECISION_ID = "DSMB-DEMO-1"
DLT_CRS_GRADE = 3
TRIAL_SUBJECT = "trial"  # what the story's trial-level lines name in place of a study id
DLT_AFTER = timedelta(days=2, hours=2)  # after the infusion (in the staff's morning): day 2, still in their day
STAFF_HOUR = 10


class Told(FrozenModel):
    role: Role
    staff_id: str


class StoppingRuleStory(FrozenModel):
    """What the safety story showed: the pause, who was told, the refusals, the DSMB's decision, the resume."""

    paused: TrialStatus
    told: tuple[Told, ...]
    enrollment_refused: tuple[str, ...]
    lymphodepletion_refused: tuple[str, ...]
    decision: DsmbRecord
    resumed: TrialStatus
    after_resume: TrialStatus  # the refused enrollment and lymphodepletion, taken once enrollment resumed


@dataclass
class RecordingChannel:
    """A webhook channel that keeps what the notifier hands it: the demo says who was told."""

    kind: ChannelKind = ChannelKind.WEBHOOK
    sent: list[tuple[Notification, str]] = field(default_factory=list)

    def send(self, notification: Notification, delivery: PlannedDelivery) -> None:
        self.sent.append((notification, delivery.target.staff_id))


def staff_directory() -> StaffDirectory:
    """One synthetic person per role (the DSMB's holder too), each reached by a webhook the recording channel takes."""
    staff = [
        {
            "id": STAFF_USER_IDS.format(role=role.value),
            "roles": [role.value],
            "webhooks": [f"https://hooks.example.org/{role.value}"],
        }
        for role in ADDRESSABLE_ROLES
    ]
    return parse_staff_directory({"staff": staff}, "the demo's staff directory")


@dataclass
class _Story:
    trial: TrialClient
    clock: ServerClock
    protocol: TrialProtocol
    say: Callable[[str], None]
    channel: RecordingChannel
    trial_workflow_id: str

    def patient(self, study_id: str) -> PathPatient:
        return PathPatient(study_id=study_id, staff_user_ids=STAFF_USER_IDS)

    def voice(self, study_id: str, message: str) -> None:
        """Progress lines carry the site date and the study id only, as the demo's: never a name or a birth date."""
        self.say(f"{site_date(self.clock.now, self.protocol.schedule)}  {study_id}  {message}")

    def trial_voice(self, message: str) -> None:
        self.voice(TRIAL_SUBJECT, message)

    async def record(self, study_id: str, command: cmd.StaffCommand) -> None:
        """Recorded, signed now by its actor when its step may be; each 24 h report is sent to the sponsor at once."""
        result = await self.trial.record(study_id, signed(command, self.clock.now))
        for event in result.events:
            if isinstance(event.payload, ExpeditedReportOpened):
                confirmation = cmd.ConfirmExpeditedReport(
                    actor=self.patient(study_id).actor(Role.INVESTIGATOR),
                    report_id=event.payload.report_id,
                    submitted_at=self.clock.now,
                    sponsor_reference=f"SP-{study_id}-{event.payload.report_id}",
                )
                await self.trial.record(study_id, signed(confirmation, self.clock.now))

    def enrollment(self, study_id: str) -> cmd.EnrollPatient:
        return enrollment(self.patient(study_id), site_date(self.clock.now, self.protocol.schedule), self.protocol)

    async def walk(self, study_id: str, milestone: Milestone) -> None:
        """Enrolled now (the trial admits them first), then along the path to `milestone` on the server's clock."""
        await self.trial.enroll(self.enrollment(study_id))
        for step in path_to(milestone, self.patient(study_id), self.clock.now, self.protocol):
            await self.clock.move_to(step.at)
            await self.record(study_id, step.command)
        self.voice(study_id, "infused (day 0)" if milestone is Milestone.INFUSED else "product released")

    async def dose_limiting_toxicity(self, study_id: str) -> None:
        await self.clock.move_to(self.clock.now + DLT_AFTER)
        nurse = self.patient(study_id).actor(Role.NURSE)
        findings = crs_findings_for(DLT_CRS_GRADE, self.protocol)
        await self.record(study_id, cmd.AssessCrs(actor=nurse, assessed_at=self.clock.now, findings=findings))
        self.voice(study_id, f"day 2: CRS grade {DLT_CRS_GRADE}, a dose-limiting toxicity")

    def prescription(self) -> cmd.PrescribeLymphodepletion:
        starts_on = site_date(self.clock.now, self.protocol.schedule) + timedelta(days=1)
        return prescription(self.patient(WAITING), starts_on, self.protocol)

    async def told(self) -> tuple[Told, ...]:
        """Who the pause reached, once the trial's deliveries are done."""
        await settle(self.trial.temporal, self.trial_workflow_id)
        told = {
            Told(role=n.role, staff_id=staff) for n, staff in self.channel.sent if n.topic is Topic.ENROLLMENT_PAUSED
        }
        return tuple(sorted(told, key=lambda t: t.role.value))

    def signed_resume(self) -> DsmbDecision:
        decision = DsmbDecision(
            decision_id=DECISION_ID,
            actor=DSMB_MEMBER,
            outcome=DsmbOutcome.RESUME,
            decided_at=self.clock.now,
            rationale="Both DLTs reviewed: expected CRS, managed per protocol; resume with closer monitoring.",
        )
        return sign(
            decision,
            signer_user_id=DSMB_MEMBER.user_id,
            printed_name="DSMB chair (synthetic staff)",
            signed_at=self.clock.now,
            meaning=SignatureMeaning.APPROVAL,
        )


async def refused(attempt: Callable[[], Awaitable[object]]) -> tuple[str, ...]:
    """Every reason the paused trial gives for refusing `attempt`."""
    try:
        await attempt()
    except CommandRefused as refusal:
        return tuple(refusal.reasons)
    raise AssertionError("the paused trial took a step it must refuse")


async def run_stopping_rule_story(
    env: WorkflowEnvironment,
    protocol: TrialProtocol,
    say: Callable[[str], None],
    not_before: datetime | None = None,
) -> StoppingRuleStory:
    """The story on `env`'s time-skipping server, with a worker, a trial and a record of its own; it begins the site
    day after `not_before` (default: the server's now), in the staff's morning."""
    with tempfile.TemporaryDirectory(prefix="trial-demo-safety-") as record_dir:
        record_url = f"sqlite:///{Path(record_dir) / 'trial-record.db'}"
        store = EventStore(engine=create_record_engine(record_url, durable=False))
        try:
            store.migrate()
            channel = RecordingChannel()
            notifier = Notifier(staff_directory(), DeliveryLedger(store.engine), {ChannelKind.WEBHOOK: channel})
            task_queue = f"demo-safety-{uuid.uuid4()}"
            async with journey_worker(env.client, store, task_queue=task_queue, notifier=notifier):
                clock = ServerClock(env, await server_time(env))
                begin_on = site_date(max(not_before or clock.now, clock.now), protocol.schedule) + timedelta(days=1)
                # Staff act in their day, never at the instants the workflows' timers fire (00:00, 08:00).
                await clock.move_to(site_moment(begin_on, STAFF_HOUR, protocol.schedule))
                trial = TrialClient(env.client, store, protocol, task_queue=task_queue, clock=clock)
                workflow_id = trial_workflow_id(protocol.accrual.trial_identifier, task_queue)
                return await _tell(_Story(trial, clock, protocol, say, channel, workflow_id))
        finally:
            store.close()


async def _tell(story: _Story) -> StoppingRuleStory:
    say = story.trial_voice
    say("safety story: a trial of its own, where the stopping rule fires and only the DSMB moves it on")
    await story.walk(FIRST_DLT, Milestone.INFUSED)
    await story.dose_limiting_toxicity(FIRST_DLT)
    await story.walk(WAITING, Milestone.RELEASED)  # lymphodepletion still to be prescribed
    await story.walk(SECOND_DLT, Milestone.INFUSED)
    await story.dose_limiting_toxicity(SECOND_DLT)

    paused = await story.trial.trial_status()
    rule = paused.stopping_rule
    limits = story.protocol.stopping_rule
    say(
        f"ENROLLMENT {paused.enrollment.value.upper()}: {rule.toxicities} DLTs among {rule.patients} evaluable "
        f"patients, posterior P(DLT rate > {limits.toxicity_rate_threshold:.0%}) = {rule.posterior_probability:.3f} "
        f"(the rule pauses above {limits.posterior_probability_threshold})"
    )
    told = await story.told()
    say("told at once: " + ", ".join(f"{t.role.value} ({t.staff_id})" for t in told))
    latecomer = story.enrollment(LATECOMER)
    enrollment_refused = await refused(lambda: story.trial.enroll(latecomer))
    story.voice(LATECOMER, "enrollment refused: " + "; ".join(enrollment_refused))
    prescription = story.prescription()
    lymphodepletion_refused = await refused(lambda: story.record(WAITING, prescription))
    story.voice(WAITING, "lymphodepletion refused: " + "; ".join(lymphodepletion_refused))

    resumed = await story.trial.dsmb_decision(story.signed_resume())
    [decision] = [d for d in resumed.decisions if d.decision_id == DECISION_ID]
    say(
        f"DSMB decision {decision.decision_id}, signed by {decision.decided_by}: {decision.outcome.value}; "
        f"enrollment {resumed.enrollment.value}"
    )
    await story.record(WAITING, prescription)
    story.voice(WAITING, "lymphodepletion prescribed")
    await story.trial.enroll(latecomer)
    story.voice(LATECOMER, "enrolled")
    return StoppingRuleStory(
        paused=paused,
        told=told,
        enrollment_refused=enrollment_refused,
        lymphodepletion_refused=lymphodepletion_refused,
        decision=decision,
        resumed=resumed,
        after_resume=await story.trial.trial_status(),
    )
