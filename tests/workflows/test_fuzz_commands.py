"""Every staff command, fuzzed through the `record` update of a real PatientJourneyWorkflow on the time-skipping
server: plausible, boundary and wrong-typed values, huge strings, NaN and infinity, dates in the future and before
birth, and payloads that are no command at all. Each is accepted, or refused with its reasons; the workflow never
fails a workflow task, its status query answers, and the trial record and its timeline stay one contiguous story.

Hypothesis draws in a worker thread (it cannot await); each example's update and checks run on the test's event
loop, where the server's client and the session worker live.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.enums.v1 import EventType, WorkflowExecutionStatus
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from config.settling import settle
from domain.free_text import FREE_TEXT_RULE
from domain.journey.commands import StaffCommand
from domain.journey.status_view import PatientStatus
from domain.roles import Role
from domain.site_time import site_date
from records import EventStore
from tests.domain.command_payloads import (
    STAFF_COMMANDS,
    FuzzedCommand,
    PatientContext,
    Relative,
    fuzzed_commands,
    json_payload,
    materialize,
    raw_payloads,
)
from tests.workflows.journey_client import RULES, JourneyClient
from workers.time_skipping import skip_time
from workflows.journey_messages import RecordResult, TimelineEntry
from workflows.patient_journey import COMMAND_REJECTED, RESEND_TO_NEW_RUN, PatientJourneyWorkflow

Env = tuple[WorkflowEnvironment, EventStore, str]
T = TypeVar("T")

STAFF_COMMAND = TypeAdapter[Any](StaffCommand)
# Only a guard against a hang (an update whose workflow task keeps failing never answers): never a timing claim.
HANG_GUARD_SECONDS = 120
FUZZ_SETTINGS = settings(
    # No shrinking: each example runs against the journey as the earlier ones left it, so a smaller example would
    # not meet the same state; the failing example is reported as it was sent.
    phases=[Phase.explicit, Phase.generate],
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
# How far the server's clock moves between two commands: mostly not at all, sometimes past a timer.
SKIPPED_DAYS = [0] * 7 + [1, 3, 15]
DECODING_FAILED = "Failed decoding arguments"


@dataclass
class Outcome:
    accepted: RecordResult | None = None
    reasons: tuple[str, ...] = ()
    refused_by: str = ""  # "decider", "decoding" or "server"


@dataclass
class FuzzedJourney:
    """One patient's journey under fuzzing, and what became of every command sent to it."""

    env: WorkflowEnvironment
    store: EventStore
    journey: JourneyClient
    date_of_birth: date
    loop: asyncio.AbstractEventLoop
    outcomes: Counter[str] = field(default_factory=Counter)
    kinds_accepted: set[str] = field(default_factory=set)

    @property
    def study_id(self) -> str:
        return self.journey.study_id

    def on_loop(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the test's event loop, from Hypothesis's thread."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    # ------------------------------------------------------------ one example

    async def context(self) -> PatientContext:
        status = await self.status()
        now = await self.journey.now()
        return PatientContext(
            study_id=self.study_id,
            now=now,
            today=site_date(now, RULES),
            date_of_birth=self.date_of_birth,
            chain_of_identity=status.chain_of_identity,
            report_ids=tuple(r.report_id for r in status.open_expedited_reports),
            due_codes=tuple(item.code for item in status.due),
            last_sequence=status.last_sequence,
            phase=status.phase,
        )

    async def example(self, command: FuzzedCommand, skip_days: int) -> None:
        """One command: the server's clock moved on first, then the command made for the patient as they are."""
        if skip_days:
            await skip_time(self.env, timedelta(days=skip_days))
            await self.settled(f"{skip_days} days skipped")
        await self.example_payload(json_payload(command.for_patient(await self.context())))

    async def example_payload(self, payload: Payload) -> Outcome:
        before = (await self.status()).last_sequence
        outcome = await self.send(payload)
        await self.check(before, outcome, payload)
        return outcome

    async def send(self, payload: Payload) -> Outcome:
        """The payload as the `record` update: a decodable command through the pydantic converter, as any client
        sends it; anything else as the raw JSON it is."""
        try:
            argument: Any = STAFF_COMMAND.validate_json(payload.data)
        except (ValidationError, ValueError):
            argument = RawValue(payload)
        update_id = str(uuid.uuid4())
        for _attempt in range(5):
            try:
                result = await asyncio.wait_for(
                    self.journey.handle.execute_update("record", argument, id=update_id, result_type=RecordResult),
                    HANG_GUARD_SECONDS,
                )
            except TimeoutError:
                raise AssertionError(await self.stuck(summary(payload))) from None
            except WorkflowUpdateFailedError as error:
                if isinstance(error.cause, ApplicationError) and error.cause.type == RESEND_TO_NEW_RUN:
                    await asyncio.sleep(0.1)
                    continue
                return refusal(error, payload)
            except RPCError as error:
                if error.status is RPCStatusCode.NOT_FOUND:
                    if await self.closed():  # a fuzzed exit ended the journey: nothing more to record
                        return Outcome(reasons=(error.message,), refused_by="server")
                    await asyncio.sleep(0.1)  # between two runs: the same update id again
                    continue
                return server_refusal(error, payload)
            return Outcome(accepted=result)
        raise AssertionError(f"still between runs after 5 attempts: {summary(payload)}")

    async def check(self, before: int, outcome: Outcome, payload: Payload) -> None:
        what = summary(payload)
        await self.settled(what)
        status = await self.status()  # still answers
        timeline = await self.timeline()
        recorded = await asyncio.to_thread(self.store.events_for, self.study_id)
        sequences = [e.sequence for e in recorded]
        assert sequences == list(range(1, len(recorded) + 1)), f"the record has a gap after {what}"
        assert [t.sequence for t in timeline] == sequences, f"the timeline and the record differ after {what}"
        assert status.last_sequence == len(recorded)
        if outcome.accepted is not None:
            self.outcomes["accepted"] += 1
            added = [e.sequence for e in outcome.accepted.events]
            assert added == list(range(before + 1, before + 1 + len(added))), what
            self.kinds_accepted.add(str(STAFF_COMMAND.validate_json(payload.data).kind))
        else:
            self.outcomes[f"refused by the {outcome.refused_by}"] += 1
            assert outcome.reasons and all(isinstance(r, str) and r.strip() for r in outcome.reasons), what
            # A refusal changes nothing: anything new since is the workflow's own timers.
            assert all(e.actor_role == Role.SYSTEM.value for e in recorded[before:]), f"{what} changed the record"

    # ------------------------------------------------------------ the workflow's health

    async def status(self) -> PatientStatus:
        return await answered(self.journey.status)

    async def timeline(self) -> list[TimelineEntry]:
        return await answered(lambda: self.journey.handle.query(PatientJourneyWorkflow.timeline))

    async def describe(self) -> Any:
        client = self.env.client
        return await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=self.journey.handle.id),
            )
        )

    async def closed(self) -> bool:
        described = await self.describe()
        return described.workflow_execution_info.status != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING

    async def settled(self, after: str) -> None:
        """Wait until the workflow has nothing in flight (a timer's event being recorded, a notification), so that
        the record and the timeline can be compared; a workflow that never settles is a failure."""
        try:
            await settle(self.env.client, self.journey.handle.id, timedelta(seconds=HANG_GUARD_SECONDS))
        except TimeoutError:
            raise AssertionError(await self.stuck(after)) from None

    async def histories(self) -> list[list[HistoryEvent]]:
        """Every run's history, first to current, through each continue-as-new."""
        run_id = (await self.describe()).workflow_execution_info.first_run_id
        runs = []
        while True:
            handle = self.env.client.get_workflow_handle(self.journey.handle.id, run_id=run_id)
            history = list((await handle.fetch_history()).events)
            runs.append(history)
            last = history[-1]
            if last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                return runs
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id

    async def failed_workflow_tasks(self) -> list[str]:
        return [
            event.workflow_task_failed_event_attributes.failure.message
            for history in await self.histories()
            for event in history
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        ]

    async def stuck(self, after: str) -> str:
        """Why an update did not answer, for the failure message; the journey is stopped, so that it does not
        retry forever under the session's skipped clock."""
        described = await self.describe()
        activities = [(a.activity_type.name, a.attempt, a.last_failure.message) for a in described.pending_activities]
        failed = await self.failed_workflow_tasks()
        await self.journey.handle.terminate("stuck under fuzzing")
        return f"stuck after {after}: failed workflow tasks {failed}, pending activities {activities}"


async def answered(query: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """A query's answer, asked again when it timed out: on a loaded machine a query may wait for a busy worker; the
    check is that the workflow answers, not how fast."""
    for attempt in range(1, attempts + 1):
        try:
            return await query()
        except RPCError as error:
            if error.status not in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED) or attempt == attempts:
                raise
    raise AssertionError("unreachable")


def refusal(error: WorkflowUpdateFailedError, payload: Payload) -> Outcome:
    """A refusal must be the decider's (every reason) or the command model's (every invalid field)."""
    cause = error.cause
    assert isinstance(cause, ApplicationError), f"{summary(payload)} refused by {cause!r}"
    if cause.type == COMMAND_REJECTED:
        return Outcome(reasons=tuple(cause.details), refused_by="decider")
    if cause.message == DECODING_FAILED and isinstance(cause.cause, FailureError):
        # The update's argument is not a staff command: pydantic's message names each field and what is wrong.
        return Outcome(reasons=(f"{cause.message}: {cause.cause.message}",), refused_by="decoding")
    raise AssertionError(f"{summary(payload)} refused, but not with reasons: {cause.type}: {cause.message}")


def server_refusal(error: RPCError, payload: Payload) -> Outcome:
    """Refused before the workflow saw it (too large for the server, say): fine, if the server says why."""
    if error.status not in (RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.RESOURCE_EXHAUSTED) or not error.message:
        raise AssertionError(f"{summary(payload)}: the server answered {error.status!r} {error.message!r}")
    return Outcome(reasons=(error.message,), refused_by="server")


def summary(payload: Payload, limit: int = 300) -> str:
    text = payload.data[:limit].decode("utf-8", "replace")
    return f"{text}{'...' if len(payload.data) > limit else ''} ({len(payload.data)} bytes)"


# ---------------------------------------------------------------- the journeys under fuzz


async def fuzzed(
    journey_env: Env, study_id: str, to: Callable[[JourneyClient], Awaitable[object]] = JourneyClient.start
) -> FuzzedJourney:
    """A journey started and brought `to` where the fuzzing begins (enrolled, by default)."""
    env, store, task_queue = journey_env
    journey = JourneyClient(env.client, task_queue, study_id, env=env)
    today = await journey.today()
    await to(journey)
    target = FuzzedJourney(
        env=env,
        store=store,
        journey=journey,
        date_of_birth=today - timedelta(days=9 * 365 + 30),  # as JourneyClient.start enrolls the child
        loop=asyncio.get_running_loop(),
    )
    await target.settled("enrollment")
    return target


async def fuzz(target: FuzzedJourney, examples: int, kinds: tuple[str, ...] = tuple(sorted(STAFF_COMMANDS))) -> None:
    """`examples` fuzzed commands, one after the other, then the run's history is checked; the journey is stopped
    afterwards either way, so that its odd state does not follow other tests through the shared clock."""

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(data=st.data())
    def one_command(data: st.DataObject) -> None:
        skip_days = data.draw(st.sampled_from(SKIPPED_DAYS), label="days skipped first")
        command = data.draw(fuzzed_commands(kinds), label="command")
        target.on_loop(target.example(command, skip_days))

    try:
        await asyncio.to_thread(one_command)
        assert await target.failed_workflow_tasks() == []
    finally:
        print("OUTCOMES", target.study_id, dict(target.outcomes), sorted(target.kinds_accepted))
        await terminate(target)


async def terminate(target: FuzzedJourney) -> None:
    """Stop the journey once nothing of it is in flight: the time-skipping server keeps the hold on its clock of
    activities whose workflow was stopped under them."""
    await target.settled("the fuzzing")
    if not await target.closed():  # a fuzzed exit may have ended the journey
        await target.journey.handle.terminate("fuzzing finished")


async def test_every_command_fuzzed_from_enrollment_is_accepted_or_refused_with_reasons(journey_env: Env) -> None:
    target = await fuzzed(journey_env, "TF-961")
    await fuzz(target, examples=60)
    assert target.outcomes["accepted"] and target.outcomes["refused by the decider"]
    assert target.outcomes["refused by the decoding"]


async def test_every_command_fuzzed_while_awaiting_infusion(journey_env: Env) -> None:
    target = await fuzzed(journey_env, "TF-962", to=JourneyClient.to_infusion)
    await fuzz(target, examples=40)
    assert target.outcomes["refused by the decider"] and target.outcomes["refused by the decoding"]


async def test_toxicity_safety_and_follow_up_commands_fuzzed_after_infusion(journey_env: Env) -> None:
    async def infused(journey: JourneyClient) -> None:
        await journey.to_infusion()
        await journey.infuse()

    target = await fuzzed(journey_env, "TF-963", to=infused)
    after_infusion = (
        "assess_crs",
        "assess_icans",
        "record_adverse_event",
        "record_fever_masking_dose",
        "confirm_expedited_report",
        "record_disease_assessment",
        "record_chemotherapy_resumed",
        "record_visit",
        "record_death",
        "record_lost_to_follow_up",
    )
    await fuzz(target, examples=50, kinds=after_infusion)
    assert target.outcomes["accepted"] and target.outcomes["refused by the decoding"]


async def test_payloads_that_are_no_command_are_refused_and_change_nothing(journey_env: Env) -> None:
    target = await fuzzed(journey_env, "TF-964")

    @settings(FUZZ_SETTINGS, max_examples=30)
    @given(payload=raw_payloads())
    def one_payload(payload: Payload) -> None:
        target.on_loop(target.example_payload(payload))

    try:
        await asyncio.to_thread(one_payload)
        assert await target.failed_workflow_tasks() == []
    finally:
        await terminate(target)
    assert target.outcomes["accepted"] == 0
    assert target.outcomes["refused by the decoding"]


# ---------------------------------------------------------------- what the fuzzing found, kept as examples


async def test_a_reason_the_record_cannot_keep_is_refused_and_the_journey_moves_on(journey_env: Env) -> None:
    """Found by fuzzing: a reason with an invisible control character passed the decider, then the record refused
    the event, and the append was retried forever, holding back every later command of the patient. The command's
    own model refuses it now, naming the rule and the character (the record's check stays behind it)."""
    target = await fuzzed(journey_env, "TF-965")
    investigator = {"user_id": "dr.li", "role": "investigator"}
    try:
        for reason in ["family\x07 decision", "a\x00b"]:
            refused = await target.example_payload(
                json_payload({"kind": "take_off_study", "actor": investigator, "reason": reason})
            )
            assert refused.refused_by == "decoding"
            [reason] = refused.reasons
            assert f"{FREE_TEXT_RULE} (found U+" in reason and "reason" in reason
        confirmation = {"kind": "confirm_eligibility", "actor": investigator, "signature": Relative("signature")}
        signed = materialize(confirmation, await target.context())
        moved_on = await target.example_payload(json_payload(signed))
        assert moved_on.accepted is not None
    finally:
        await terminate(target)


async def test_a_payload_in_another_encoding_is_refused_as_no_command(journey_env: Env) -> None:
    """Found by fuzzing: binary/plain and binary/null payloads reach the validator as bytes or None, past pydantic;
    the decider then failed on them (AttributeError) instead of refusing them with a reason."""
    target = await fuzzed(journey_env, "TF-966")
    try:
        for encoding, type_name in [(b"binary/plain", "bytes"), (b"binary/null", "NoneType")]:
            outcome = await target.example_payload(
                Payload(
                    metadata={"encoding": encoding}, data=b'{"kind": "take_off_study"}' if type_name == "bytes" else b""
                )
            )
            assert outcome.refused_by == "decider"
            assert outcome.reasons == (f"this is not a staff command (the update's argument is {type_name})",)
    finally:
        await terminate(target)
