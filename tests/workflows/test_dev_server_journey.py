"""PatientJourneyWorkflow on a real dev server: continue-as-new when the server suggests it, retried update ids
answered across runs, a staff update racing a durable timer, and journeys found by their search attributes.

The server's continue-as-new threshold is lowered through dynamic config, so a few dozen commands show what a
fifteen-year journey does thousands of times. Nothing skips time here: every step is dated in the past, as staff
entering records late would date them, and the decider accepts such dates in order.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType, SuggestContinueAsNewReason
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.journey_activities import AppendEventsInput
from config import search_attributes as sa
from config.journey_ids import journey_workflow_id
from config.settling import work_in_flight
from domain.journey import commands as cmd
from domain.journey.phases import Phase
from domain.journey.status_view import PatientStatus
from domain.protocol import PROTOCOL_V1
from domain.site_time import site_date, site_moment
from domain.toxicity import AdverseEvent
from records import EventStore
from simulation.journey_steps import STAFF_HOUR, Milestone, PathPatient, entered_late, path_to, send, staff_day
from tests.domain.journey_driver import INVESTIGATOR, NURSE, PHYSICIAN, crs_findings, icans_findings
from tests.waiting import poll
from tests.workflows.journey_client import JourneyClient
from workers.dev_server import DevServer, dev_server_command, free_port
from workers.worker import journey_worker
from workflows.journey_messages import RECENT_UPDATES_KEPT, JourneyInput, JourneySummary, RecordResult
from workflows.patient_journey import MAX_HISTORY_EVENTS_PER_RUN, MAX_UPDATES_PER_RUN, PatientJourneyWorkflow

RULES = PROTOCOL_V1.schedule
T = TypeVar("T")

# The server suggests continue-as-new once a run's history reaches this many events (default 4,096 = 4 Ki).
SUGGEST_CONTINUE_AS_NEW_KEY = "limit.historyCount.suggestContinueAsNew"
SUGGEST_AFTER_EVENTS = 60
# An accepted command adds a dozen events or so: a run must continue-as-new within this many commands.
COMMANDS_PER_RUN_AT_MOST = 12


@dataclass(frozen=True)
class Stack:
    server: DevServer
    client: Client
    store: EventStore
    record_file: Path
    task_queue: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One dev server (free loopback ports, its own data directory), one worker and the record it appends to."""
    data_dir = tmp_path_factory.mktemp("dev-server")
    server = DevServer(
        data_dir=data_dir,
        port=free_port(),
        ui_port=free_port(),
        extra_args=("--dynamic-config-value", f"{SUGGEST_CONTINUE_AS_NEW_KEY}={SUGGEST_AFTER_EVENTS}"),
    )
    record_file = data_dir / "trial-record.db"
    store = EventStore(f"sqlite:///{record_file}")
    store.migrate()
    try:
        async with server:
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            task_queue = f"journeys-{uuid.uuid4()}"
            async with journey_worker(client, store, task_queue=task_queue):
                yield Stack(server=server, client=client, store=store, record_file=record_file, task_queue=task_queue)
    finally:
        store.close()


# ---------------------------------------------------------------- driving a journey on the real clock


def today() -> date:
    return staff_day(datetime.now(UTC), PROTOCOL_V1)


async def enroll(stack: Stack, study_id: str, screened_on: date) -> JourneyClient:
    journey = JourneyClient(stack.client, stack.task_queue, study_id)
    await journey.start(screened_on)
    return journey


async def to_apheresis(stack: Stack, study_id: str, screened_on: date) -> JourneyClient:
    journey = await enroll(stack, study_id, screened_on)
    enrolled_at = site_moment(screened_on, STAFF_HOUR, RULES)
    await send(path_to(Milestone.CONSENTED, PathPatient(study_id=study_id), enrolled_at, PROTOCOL_V1), journey.do)
    return journey


async def infused(stack: Stack, study_id: str, infused_at: datetime) -> tuple[JourneyClient, str]:
    """The whole path to infusion, each step dated before `infused_at`; returns the infusion's update id."""
    patient = PathPatient(study_id=study_id)
    *steps, infusion = entered_late(
        Milestone.INFUSED, patient, site_date(infused_at, RULES), PROTOCOL_V1, infused_at=infused_at
    )
    journey = await enroll(stack, study_id, site_date(steps[0].at, RULES))
    await send(steps, journey.do)
    infusion_id = f"{study_id}-infusion"
    await journey.do(infusion.command, update_id=infusion_id)
    return journey, infusion_id


async def settled(journey: JourneyClient) -> WorkflowExecutionDescription:
    """The current run, once it has nothing in flight: no workflow task, no activity (the record, notifications)."""

    async def idle() -> WorkflowExecutionDescription | None:
        if await work_in_flight(journey.client, journey.handle.id) is not None:
            return None
        described = await journey.handle.describe()
        return described if described.status is WorkflowExecutionStatus.RUNNING else None

    return await poll(idle, f"{journey.study_id} settling")


@dataclass(frozen=True)
class ContinuedAsNew:
    old_run_id: str
    new_run_id: str
    update_id: str  # the last command the old run applied
    result: RecordResult
    commands_sent: int


async def send_until_continued_as_new(
    journey: JourneyClient, command: Callable[[int], cmd.StaffCommand], id_prefix: str
) -> ContinuedAsNew:
    """Accepted commands one at a time, each left to settle, until the run continues as new."""
    before = await settled(journey)
    for number in range(1, COMMANDS_PER_RUN_AT_MOST + 1):
        update_id = f"{id_prefix}-{number}"
        result = await journey.do(command(number), update_id=update_id)
        after = await settled(journey)
        if after.run_id != before.run_id:
            assert before.run_id is not None and after.run_id is not None
            return ContinuedAsNew(before.run_id, after.run_id, update_id, result, number)
        before = after
    raise AssertionError(f"{journey.study_id}: still one run after {COMMANDS_PER_RUN_AT_MOST} accepted commands")


def run_handle(journey: JourneyClient, run_id: str) -> WorkflowHandle[PatientJourneyWorkflow, JourneySummary]:
    return journey.client.get_workflow_handle_for(
        PatientJourneyWorkflow.run, journey_workflow_id(journey.study_id), run_id=run_id
    )


async def history_of(journey: JourneyClient, run_id: str) -> list[HistoryEvent]:
    return list((await run_handle(journey, run_id).fetch_history()).events)


async def runs_of(journey: JourneyClient) -> list[tuple[str, list[HistoryEvent]]]:
    """Every run of the journey, first to current, with its history: followed through each continue-as-new."""
    run_id = (await journey.handle.describe()).raw_description.workflow_execution_info.first_run_id
    runs = []
    while True:
        history = await history_of(journey, run_id)
        runs.append((run_id, history))
        if history[-1].event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return runs
        run_id = history[-1].workflow_execution_continued_as_new_event_attributes.new_execution_run_id


def failed_tasks(history: list[HistoryEvent]) -> list[HistoryEvent]:
    return [e for e in history if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]


def journey_input(event: HistoryEvent) -> JourneyInput:
    """The input a run started with, or the one its continue-as-new handed on."""
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        payloads = event.workflow_execution_started_event_attributes.input.payloads
    else:
        payloads = event.workflow_execution_continued_as_new_event_attributes.input.payloads
    [decoded] = pydantic_data_converter.payload_converter.from_payloads(list(payloads), [JourneyInput])
    assert isinstance(decoded, JourneyInput)
    return decoded


def accepted_update_ids(history: list[HistoryEvent]) -> list[str]:
    return [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
        for e in history
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]


def lasting_fields(status: PatientStatus) -> dict[str, object]:
    """Everything but what depends on the hour it is asked (what is due, what is late)."""
    return status.model_dump(exclude={"due", "next_due", "overdue", "visits", "daily_monitoring"})


def assert_recorded_once_each(store: EventStore, study_id: str, last_sequence: int) -> list[str]:
    recorded = store.events_for(study_id)
    assert [e.sequence for e in recorded] == list(range(1, last_sequence + 1))
    assert store.verify(study_id).ok
    return [e.event_type for e in recorded]


def crs(number: int) -> cmd.AssessCrs:
    """A CRS assessment now: a fever (grade 1) at the first, none after."""
    fever = 38.3 if number == 1 else 36.9
    return cmd.AssessCrs(actor=NURSE, assessed_at=datetime.now(UTC), findings=crs_findings(max_temperature_c=fever))


# ---------------------------------------------------------------- the server's own argument


def test_extra_arguments_follow_the_dev_server_command() -> None:
    extra = ("--dynamic-config-value", f"{SUGGEST_CONTINUE_AS_NEW_KEY}={SUGGEST_AFTER_EVENTS}")
    base = dev_server_command(
        Path("/opt/temporal"), db_file=Path("t.db"), ip="127.0.0.1", port=1, ui_port=2, namespace="n"
    )
    with_extra = dev_server_command(
        Path("/opt/temporal"), db_file=Path("t.db"), ip="127.0.0.1", port=1, ui_port=2, namespace="n", extra_args=extra
    )
    assert with_extra == [*base, *extra]
    assert DevServer(data_dir=Path("d")).extra_args == ()


# ---------------------------------------------------------------- continue-as-new


async def test_the_server_suggests_continue_as_new_and_the_journey_carries_on_unchanged(stack: Stack) -> None:
    infused_at = datetime.now(UTC) - timedelta(minutes=1)
    journey, infusion_id = await infused(stack, "TF-9101", infused_at)
    await journey.do(cmd.AssessIcans(actor=NURSE, assessed_at=datetime.now(UTC), findings=icans_findings()))

    can = await send_until_continued_as_new(journey, crs, "TF-9101-crs")

    # The old run was closed by continue-as-new, because the server suggested it: no era began within it, and
    # it stayed far below the workflow's own limits on updates and history events.
    old = run_handle(journey, can.old_run_id)
    assert (await old.describe()).status is WorkflowExecutionStatus.CONTINUED_AS_NEW
    history = await history_of(journey, can.old_run_id)
    assert history[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert len(history) < MAX_HISTORY_EVENTS_PER_RUN
    assert len(accepted_update_ids(history)) < MAX_UPDATES_PER_RUN
    started_tasks = [e for e in history if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED]
    suggested = [e for e in started_tasks if e.workflow_task_started_event_attributes.suggest_continue_as_new]
    assert suggested, "the server never suggested continue-as-new"
    # Suggested only once the run's history reached the lowered threshold.
    assert all(e.event_id >= SUGGEST_AFTER_EVENTS for e in suggested)
    assert all(
        e.workflow_task_started_event_attributes.suggest_continue_as_new
        for e in started_tasks
        if e.event_id > suggested[0].event_id
    )
    assert list(suggested[0].workflow_task_started_event_attributes.suggest_continue_as_new_reasons) == [
        SuggestContinueAsNewReason.SUGGEST_CONTINUE_AS_NEW_REASON_TOO_MANY_HISTORY_EVENTS
    ]
    carried_in, carried_on = journey_input(history[0]), journey_input(history[-1])
    assert carried_in.carried is not None and carried_on.carried is not None
    assert infusion_id in [u.update_id for u in carried_in.carried.recent_updates]
    assert carried_in.carried.state.era is carried_on.carried.state.era is Phase.TOXICITY_OBSERVATION
    new_history = await history_of(journey, can.new_run_id)
    assert journey_input(new_history[0]) == carried_on
    assert carried_on.carried.runs == carried_in.carried.runs + 1

    # The new run knows what the old one knew at its end: asked of both, the same answer.
    before = await old.query(PatientJourneyWorkflow.status)
    after = await journey.status()
    assert lasting_fields(after) == lasting_fields(before)
    assert after.last_sequence == can.result.events[-1].sequence
    assert after.phase is Phase.TOXICITY_OBSERVATION
    assert (after.highest_crs_grade, after.highest_icans_grade) == (1, 0)
    assert await journey.handle.query(PatientJourneyWorkflow.timeline) == await old.query(
        PatientJourneyWorkflow.timeline
    )

    # The permanent record holds every event once, in order, and its hash chain holds.
    types = assert_recorded_once_each(stack.store, "TF-9101", after.last_sequence)
    assert types.count("crs_assessed") == can.commands_sent
    assert types.count("cells_infused") == 1

    # The infusion, applied before the new era's run and carried since, retried: answered, not applied.
    assert can.commands_sent + 2 <= RECENT_UPDATES_KEPT  # the infusion is among the update ids carried
    assert after.chain_of_identity is not None
    again = await journey.do(journey.infusion(after.chain_of_identity, infused_at), update_id=infusion_id)
    assert [e.type for e in again.events] == ["cells_infused", "daily_monitoring_started"]
    assert (await journey.status()).last_sequence == after.last_sequence

    # And the journey goes on in its new run.
    result = await journey.do(crs(can.commands_sent + 1))
    assert result.events[0].sequence == after.last_sequence + 1


async def test_a_retried_update_id_is_answered_again_after_continue_as_new_never_applied_twice(
    stack: Stack,
) -> None:
    journey = await to_apheresis(stack, "TF-9201", today())

    def adverse_event(number: int) -> cmd.RecordAdverseEvent:
        # A new fact each time (an exact repeat is refused): however many commands the run takes before it moves on.
        nausea = AdverseEvent(
            term=f"nausea episode {number}",
            ctcae_grade=1,
            serious=False,
            related_to_car_t="unrelated",
            onset_date=today(),
        )
        return cmd.RecordAdverseEvent(actor=PHYSICIAN, adverse_event=nausea)

    can = await send_until_continued_as_new(journey, adverse_event, "TF-9201-ae")
    assert can.update_id in accepted_update_ids(await history_of(journey, can.old_run_id))
    before = await journey.status()

    # Sent to the workflow id, not to a run: the new run answers from the update ids it carried.
    latest = stack.client.get_workflow_handle_for(PatientJourneyWorkflow.run, journey_workflow_id("TF-9201"))
    again = await latest.execute_update(
        PatientJourneyWorkflow.record, adverse_event(can.commands_sent), id=can.update_id
    )

    assert again == can.result
    assert can.update_id in accepted_update_ids(await history_of(journey, can.new_run_id))
    after = await journey.status()
    assert after.last_sequence == before.last_sequence == can.result.events[-1].sequence
    assert after.phase is Phase.APHERESIS
    types = assert_recorded_once_each(stack.store, "TF-9201", after.last_sequence)
    assert types.count("adverse_event_recorded") == can.commands_sent


# ---------------------------------------------------------------- staff updates racing timers and each other


@contextmanager
def record_write_locked(record_file: Path) -> Iterator[None]:
    """Hold the trial record's write lock: an append waits on its busy timeout until the block ends."""
    connection = sqlite3.connect(record_file, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


# What a workflow task's completion writes: its commands' events and its update responses, in one batch.
TASK_OUTPUT = frozenset(
    {
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_TIMER_STARTED,
        EventType.EVENT_TYPE_TIMER_CANCELED,
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    }
)


def appended_beside(history: list[HistoryEvent], update_id: str) -> list[str]:
    """The event types sent to the record by the same workflow task that completed `update_id`."""
    [completed_at] = [
        i
        for i, e in enumerate(history)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
        and e.workflow_execution_update_completed_event_attributes.meta.update_id == update_id
    ]
    task_completed_at = max(
        i for i in range(completed_at) if history[i].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    types: list[str] = []
    for event in itertools.takewhile(lambda e: e.event_type in TASK_OUTPUT, history[task_completed_at + 1 :]):
        attributes = event.activity_task_scheduled_event_attributes
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and (
            attributes.activity_type.name == "append_events"
        ):
            [appended] = pydantic_data_converter.payload_converter.from_payloads(
                list(attributes.input.payloads), [AppendEventsInput]
            )
            types += [e.type for e in appended.events]
    return types


async def test_a_staff_update_in_flight_when_a_timer_fires_completes_beside_the_timers_command(
    stack: Stack,
) -> None:
    """A grade 3 CRS assessed almost 24 h ago: its report falls overdue while an ICANS assessment is being recorded.

    The time-skipping test server refuses a workflow task that completes an update alongside a timer's command;
    the real server takes it, and the record keeps both, in the order they were applied.
    """
    journey, _ = await infused(stack, "TF-9301", datetime.now(UTC) - timedelta(hours=26))
    await send_until_continued_as_new(journey, crs, "TF-9301-crs")  # a fresh run: no suggestion to wake it early
    lead = timedelta(seconds=2)
    hours = timedelta(hours=PROTOCOL_V1.safety.expedited_report_hours)
    severe = crs_findings(max_temperature_c=39.4, hypotension=True, vasopressors_excluding_vasopressin=1)
    opened = await journey.do(
        cmd.AssessCrs(actor=PHYSICIAN, assessed_at=datetime.now(UTC) - hours + lead, findings=severe)
    )
    assert [e.type for e in opened.events] == ["crs_assessed", "expedited_report_opened"]
    run_id = (await settled(journey)).run_id
    assert run_id is not None
    racing_id = "TF-9301-icans-racing"

    async def timer_fired_mid_update() -> bool | None:
        history = await history_of(journey, run_id)
        accepted = [
            e.event_id
            for e in history
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
            and e.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id == racing_id
        ]
        fired = [e.event_id for e in history if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]
        return True if accepted and any(f > accepted[0] for f in fired) else None

    with record_write_locked(stack.record_file):
        command = cmd.AssessIcans(actor=NURSE, assessed_at=datetime.now(UTC), findings=icans_findings())
        racing = asyncio.create_task(journey.do(command, update_id=racing_id))
        await poll(timer_fired_mid_update, "the report's timer firing while the ICANS assessment is recorded")
        assert not racing.done()
    result = await racing

    assert [e.type for e in result.events] == ["icans_assessed"]
    history = await history_of(journey, run_id)
    assert not failed_tasks(history)
    assert appended_beside(history, racing_id) == ["expedited_report_overdue"]
    await settled(journey)
    status = await journey.status()
    assert [r.overdue for r in status.open_expedited_reports] == [True]
    types = assert_recorded_once_each(stack.store, "TF-9301", status.last_sequence)
    assert types[-2:] == ["icans_assessed", "expedited_report_overdue"]
    assert types.count("expedited_report_overdue") == 1


async def test_concurrent_staff_updates_across_new_runs_are_each_applied_once(stack: Stack) -> None:
    journey, _ = await infused(stack, "TF-9501", datetime.now(UTC) - timedelta(minutes=1))
    # Enough commands that the history outgrows one run whatever the machine's load (each takes several events):
    # counted, not timed.
    burst = MAX_HISTORY_EVENTS_PER_RUN // 6
    started = itertools.count(1)

    async def lane(number: int) -> list[tuple[str, RecordResult]]:
        sent: list[tuple[str, RecordResult]] = []
        for count in itertools.count(1):
            if next(started) > burst:
                return sent
            update_id = f"TF-9501-icans-{number}-{count}"
            command = cmd.AssessIcans(actor=NURSE, assessed_at=datetime.now(UTC), findings=icans_findings())
            sent.append((update_id, await journey.do(command, update_id=update_id)))
        raise AssertionError("unreachable")

    sent = [s for lane_sent in await asyncio.gather(*(lane(n) for n in range(3))) for s in lane_sent]
    await settled(journey)

    status = await journey.status()
    types = assert_recorded_once_each(stack.store, "TF-9501", status.last_sequence)
    assert types.count("icans_assessed") == len(sent)
    recorded = [e.sequence for e in stack.store.events_for("TF-9501") if e.event_type == "icans_assessed"]
    assert sorted(e.sequence for _, result in sent for e in result.events) == recorded
    runs = await runs_of(journey)
    assert not [e for _, history in runs for e in failed_tasks(history)]
    # The last commands of each lane, retried once the run that applied them has continued as new: the current
    # run answers them from the update ids it carried, and applies nothing.
    # If the burst happened to end just after a handover, its last commands sit in a fresh run that has no reason
    # to move on yet: send one command at a time until it does (a few, far inside the carried-ids window).
    for extra in itertools.count(1):
        last_ids = [update_id for update_id, _ in sent[-3:]]
        [(applied_in, history)] = [(r, h) for r, h in runs if last_ids[-1] in accepted_update_ids(h)]
        current_run, _ = runs[-1]
        if applied_in != current_run or extra > 10:
            break
        update_id = f"TF-9501-icans-after-{extra}"
        command = cmd.AssessIcans(actor=NURSE, assessed_at=datetime.now(UTC), findings=icans_findings())
        sent.append((update_id, await journey.do(command, update_id=update_id)))
        await settled(journey)
        status = await journey.status()
        runs = await runs_of(journey)
    assert applied_in != current_run
    assert history[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    for update_id, result in sent[-3:]:
        command = cmd.AssessIcans(actor=NURSE, assessed_at=datetime.now(UTC), findings=icans_findings())
        assert await journey.do(command, update_id=update_id) == result
    assert set(last_ids) <= set(accepted_update_ids(await history_of(journey, current_run)))
    assert (await journey.status()).last_sequence == status.last_sequence


# ---------------------------------------------------------------- finding journeys by their search attributes


async def test_journeys_are_listed_and_counted_by_phase(stack: Stack) -> None:
    in_apheresis = {journey_workflow_id(s) for s in ("TF-9401", "TF-9402")}
    awaiting_consent = journey_workflow_id("TF-9403")
    for study_id in ("TF-9401", "TF-9402"):
        await to_apheresis(stack, study_id, today())
    consent = await enroll(stack, "TF-9403", today())
    await consent.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))
    mine = ", ".join(f'"{w}"' for w in [*sorted(in_apheresis), awaiting_consent])

    async def listed() -> dict[str, str | None] | None:
        found = {
            w.id: w.typed_search_attributes.get(sa.TRIAL_PHASE)
            async for w in stack.client.list_workflows('TrialPhase = "apheresis" AND ExecutionStatus = "Running"')
        }
        return found if in_apheresis <= set(found) else None

    found = await poll(listed, "the journeys in apheresis listed")
    assert awaiting_consent not in found
    assert set(found.values()) == {"apheresis"}

    async def counted(phase: str, expected: int) -> int | None:
        query = f'TrialPhase = "{phase}" AND ExecutionStatus = "Running" AND WorkflowId IN ({mine})'
        count = (await stack.client.count_workflows(query)).count
        return count if count == expected else None

    assert await poll(lambda: counted("apheresis", 2), "two journeys counted in apheresis") == 2
    assert await poll(lambda: counted("consent", 1), "one journey counted awaiting consent") == 1
    # Counted once the counts above have caught up: no journey of these is still listed in screening.
    screening_query = f'TrialPhase = "screening" AND ExecutionStatus = "Running" AND WorkflowId IN ({mine})'
    assert (await stack.client.count_workflows(screening_query)).count == 0
