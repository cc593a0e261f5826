"""`trial-demo`: a synthetic cohort through the whole protocol on a time-skipping Temporal server of its own, then
the trial report, checked against the cohort it meant to create. One scheduler moves the server clock from step to
step of every patient's script; the workflows' own timers fire between. The trial record is thrown away, or kept
(`--record-url`) so that `trial report` and the exports can be tried on a full cohort."""

from __future__ import annotations

import asyncio
import heapq
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal, NoReturn, TypeVar

import typer
from rich.console import Console

from cli.common import USAGE_ERROR_EXIT_CODE, JsonOption, print_json, run_app
from cli.report_view import print_report
from config.journey_ids import journey_workflow_id
from config.search_attributes import register_search_attributes
from config.settling import settle
from domain.journey import commands as cmd
from domain.journey.events import ExpeditedReportOpened
from domain.journey.status_view import PatientStatus
from domain.protocol import CURRENT_PROTOCOL, FrozenModel, TrialProtocol
from domain.roles import Actor, Role
from domain.site_time import site_date, site_moment
from facade import TrialClient, TrialReport
from observability.logging import configure_logging
from records import EventStore
from records.engine import create_record_engine
from simulation.cohort import (
    MAX_COHORT,
    MIN_COHORT,
    CohortPlan,
    ExpectedReport,
    Outcome,
    PatientPlan,
    crs_findings_for,
    expected_report,
    icans_findings_for,
    marrow_for,
    plan_cohort,
    screening_for,
)
from simulation.journey_steps import (
    PathPatient,
    Step,
    after_collection,
    apheresis,
    consent_and_collection,
    scheduled_item,
    signed,
)
from simulation.server_clock import ServerClock
from simulation.stopping_rule_story import StoppingRuleStory, run_stopping_rule_story
from workers.time_skipping import TimeSkippingStalled, quiet_runtime, server_time, start_time_skipping
from workers.worker import journey_worker
from workflows.journey_messages import RecordResult

DEFAULT_SEED = 2026
DEFAULT_PATIENTS = 10
T = TypeVar("T")
# A run whose time-skipping server stalled is driven once more, from the start, on new servers (run_demo).
STALLED_RUN_ATTEMPTS = 2
# Staff act between 09:00 and 15:00 at the site: never at 00:00 or 08:00, when the workflows' timers fire
# (the time-skipping server refuses an update landing at the very instant a timer of that workflow fires).
ROUNDS_HOUR, VISIT_HOUR, GRADE_3_HOUR, REPORT_HOUR = 9, 10, 11, 15
FAILED_RUN_DAYS = 14  # collection to a failed run's notice
# What the story says once a step of the path is recorded.
PROGRESS = {
    "record_consent": "eligible, consented",
    "record_manufacturing_failure": "manufacturing failed; cells collected again",
    "prescribe_lymphodepletion": "product released, lymphodepletion prescribed",
    "record_infusion": "infused (day 0)",
}
STAFF_USER_IDS = "demo-{role}"

app = typer.Typer(name="trial-demo", add_completion=False)


def _staff(role: Role) -> Actor:
    return Actor(user_id=STAFF_USER_IDS.format(role=role.value), role=role)


COORDINATOR, INVESTIGATOR = _staff(Role.RESEARCH_COORDINATOR), _staff(Role.INVESTIGATOR)
NURSE, PHYSICIAN = _staff(Role.NURSE), _staff(Role.PHYSICIAN)


class DemoResult(FrozenModel):
    """What `trial-demo --json` prints: the cohort meant, the report expected from it, and the report given."""

    cohort: CohortPlan
    expected: ExpectedReport
    report: TrialReport
    report_matches_cohort: bool
    mismatches: tuple[str, ...]
    # A trial of its own where the stopping rule fires and the DSMB's signed decision resumes enrollment.
    stopping_rule_story: StoppingRuleStory
    # How often a part was driven again from the start because its time-skipping server stalled (run_demo).
    restarts: int = 0


# ---------------------------------------------------------------- one patient's script


Steps = AsyncIterator[datetime]  # yields the moment of its next step; runs that step when resumed


@dataclass(frozen=True)
class DrivenStep:
    """One call the demo makes to the trial, as it begins: when (the server's time), for whom, and what. The
    benchmark drives its cohort floor through the same calls (bench/cohort_floor.py)."""

    at: datetime
    study_id: str
    call: Literal["enroll", "record", "status"]


def ignore_step(_step: DrivenStep) -> None:
    return None


@dataclass
class PatientRun:
    plan: PatientPlan
    trial: TrialClient
    clock: ServerClock
    protocol: TrialProtocol
    say: Callable[[str], None]
    on_step: Callable[[DrivenStep], None] = ignore_step
    open_reports: list[str] = field(default_factory=list)

    @property
    def study_id(self) -> str:
        return self.plan.study_id

    @property
    def today(self) -> date:
        return site_date(self.clock.now, self.protocol.schedule)

    def at(self, day: date, hour: int) -> datetime:
        return site_moment(day, hour, self.protocol.schedule)

    async def status(self) -> PatientStatus:
        """The patient's status, asked once the journey has nothing in flight (see `settle`: the time-skipping
        server would stop skipping time for good after a query during a run's hand-over)."""
        self.on_step(DrivenStep(self.clock.now, self.study_id, "status"))
        await settle(self.trial.temporal, journey_workflow_id(self.study_id))
        return await self.trial.status(self.study_id)

    async def record(self, command: cmd.StaffCommand) -> RecordResult:
        """Record `command`, signed now by its actor when its step may be signed (unless it already is)."""
        if command.signature is None:
            command = signed(command, self.clock.now)
        self.on_step(DrivenStep(self.clock.now, self.study_id, "record"))
        result = await self.trial.record(self.study_id, command)
        self.open_reports += [
            e.payload.report_id for e in result.events if isinstance(e.payload, ExpeditedReportOpened)
        ]
        return result

    async def confirm_reports(self) -> None:
        """Each expedited report opened today is sent to the sponsor the same afternoon, well within the deadline."""
        for report_id in self.open_reports:
            await self.record(
                cmd.ConfirmExpeditedReport(
                    actor=INVESTIGATOR,
                    report_id=report_id,
                    submitted_at=self.clock.now,
                    sponsor_reference=f"SP-{self.study_id}-{report_id}",
                )
            )
            self.say(f"expedited report {report_id} sent to the sponsor on time")
        self.open_reports.clear()

    # ------------------------------------------------------------ the script

    @property
    def patient(self) -> PathPatient:
        plan = self.plan
        return PathPatient(
            study_id=plan.study_id,
            age_years=plan.age_years,
            height_cm=plan.height_cm,
            weight_kg=plan.weight_kg,
            staff_user_ids=STAFF_USER_IDS,
            lot_number=f"LOT-{plan.study_id}",
        )

    async def steps(self, first_day: date) -> Steps:
        enrolled_on = first_day + timedelta(days=self.plan.enrolled_on_day)
        enrolled_at = self.at(enrolled_on, ROUNDS_HOUR)
        yield enrolled_at
        if not await self._enroll(enrolled_on):
            return
        path = consent_and_collection(self.patient, enrolled_at, self.protocol)
        collected = path[-1].command
        assert isinstance(collected, cmd.RecordApheresis)
        collected_on, collection_number = collected.collected_on, 1
        if self.plan.manufacturing_failure:
            path += self._manufacturing_failure(collected_on)
            collected_on, collection_number = site_date(path[-1].at, self.protocol.schedule), 2
        path += after_collection(self.patient, collected_on, self.protocol, collection_number=collection_number)
        moment = enrolled_at
        for step in path:
            if step.at != moment:
                moment = step.at
                yield moment
            await self.record(step.command)
            if step.command.kind in PROGRESS:
                self.say(PROGRESS[step.command.kind])
        infusion = path[-1].command
        assert isinstance(infusion, cmd.RecordInfusion)
        for moment, action in await self._after_infusion(site_date(infusion.infused_at, self.protocol.schedule)):
            yield moment
            await action()
            if self.open_reports:
                yield self.at(self.today, REPORT_HOUR)
                await self.confirm_reports()

    async def _enroll(self, screened_on: date) -> bool:
        screening = screening_for(self.plan, screened_on, self.protocol)
        self.on_step(DrivenStep(self.clock.now, self.study_id, "enroll"))
        result = await self.trial.enroll(
            cmd.EnrollPatient(actor=COORDINATOR, study_id=self.study_id, screening=screening)
        )
        if not result.eligible:
            reasons = "; ".join(c.reason for c in result.failed_criteria)
            self.say(f"screen failure: {reasons}")
            return False
        return True

    def _manufacturing_failure(self, collected_on: date) -> list[Step]:
        """The first product fails; cells are collected again two days after the failure's notice."""
        failed_on = collected_on + timedelta(days=FAILED_RUN_DAYS)
        recollected_on = failed_on + timedelta(days=2)
        failure = cmd.RecordManufacturingFailure(
            actor=self.patient.actor(Role.CELL_LAB),
            failed_on=failed_on,
            reason="transduction efficiency below the release specification",
        )
        return [
            Step(self.at(failed_on, VISIT_HOUR), failure),
            Step(self.at(recollected_on, VISIT_HOUR), apheresis(self.patient, recollected_on)),
        ]

    async def _after_infusion(self, day_zero: date) -> list[tuple[datetime, Callable[[], Awaitable[None]]]]:
        """Daily CRS and ICANS rounds, then the visits the plan says happen, in time order."""
        steps: list[tuple[datetime, Callable[[], Awaitable[None]]]] = []
        for day in range(self.protocol.safety.daily_toxicity_assessment_until_day + 1):  # from day 0, as due
            crs = max(0, self.plan.crs_grade - abs(day - self.plan.crs_day))
            icans = max(0, self.plan.icans_grade - abs(day - self.plan.crs_day - 1))
            hour = GRADE_3_HOUR if crs >= self.protocol.safety.expedited_min_crs_grade else ROUNDS_HOUR
            if day == 0:
                hour = max(hour, VISIT_HOUR)  # after the morning's infusion
            steps.append((self.at(day_zero + timedelta(days=day), hour), self._rounds(day, crs, icans)))

        visits = sorted((await self.status()).visits, key=lambda v: (v.target_date, v.code))
        by_code = {v.code: v for v in visits}
        endpoint = f"M{self.protocol.response.primary_endpoint_months}"
        outcome, month = self.plan.outcome, self.plan.event_month
        if outcome in (Outcome.CR_AT_ONE_YEAR, Outcome.NOT_CR_AT_ONE_YEAR, Outcome.RELAPSE):
            last_seen = by_code[endpoint]  # after a relapse, survival follow-up keeps the visits
        elif outcome is Outcome.DEATH:
            died_on = by_code[f"M{month}"].target_date - timedelta(days=5)
            last_seen = max((v for v in visits if v.target_date < died_on), key=lambda v: v.target_date)
            steps.append((self.at(died_on, VISIT_HOUR), self._death(died_on)))
        else:
            last_seen = by_code[f"M{month}"]
        for visit in visits:
            if visit.target_date <= last_seen.target_date and visit.code not in self.plan.missed_visits:
                steps.append((self.at(visit.target_date, VISIT_HOUR), self._visit(visit.code)))
            elif visit.target_date <= last_seen.target_date:  # the plan misses it: the workflow marks it missed
                steps.append((self.at(visit.window_closes + timedelta(days=1), VISIT_HOUR), self._missed(visit.code)))
        if outcome is Outcome.LOST_TO_FOLLOW_UP:
            after = visits[visits.index(last_seen) + 1]  # missed, and nobody answers the calls
            gone_on = after.window_closes + timedelta(days=3)
            steps.append((self.at(gone_on, VISIT_HOUR), self._lost(last_seen.target_date, after.code)))
        return sorted(steps, key=lambda step: step[0])

    def _rounds(self, day: int, crs: int, icans: int) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            crs_findings = crs_findings_for(crs, self.protocol)
            await self.record(cmd.AssessCrs(actor=NURSE, assessed_at=self.clock.now, findings=crs_findings))
            await self.record(
                cmd.AssessIcans(actor=NURSE, assessed_at=self.clock.now, findings=icans_findings_for(icans))
            )
            if crs or icans:
                self.say(f"day {day}: CRS grade {crs}, ICANS grade {icans}")

        return step

    def _visit(self, code: str) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            today = self.today
            response = "cr" if code == "MRD" else self._marrow_at_visit(code)
            marrow = None if response is None else marrow_for(today, self.protocol, response=response)
            for command in scheduled_item(self.patient, code, today, self.protocol, marrow):
                await self.record(command)
            if code == "MRD":
                self.say("day 28 marrow: MRD-negative complete remission")
            elif response is not None:
                self.say(f"{code} marrow: {response.replace('_', ' ')}")

        return step

    def _missed(self, code: str) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            visit = next(v for v in (await self.status()).visits if v.code == code)
            self.say(f"{code} {visit.status.value.replace('_', ' ')} (window closed {visit.window_closes})")

        return step

    def _marrow_at_visit(self, code: str) -> str | None:
        """The relapse is found at its month's visit; the one-year marrow of those still in remission."""
        outcome = self.plan.outcome
        if outcome is Outcome.RELAPSE and code == f"M{self.plan.event_month}":
            return "relapse"
        if code != f"M{self.protocol.response.primary_endpoint_months}":
            return None
        return {Outcome.CR_AT_ONE_YEAR: "cr", Outcome.NOT_CR_AT_ONE_YEAR: "counts_not_recovered"}.get(outcome)

    def _death(self, died_on: date) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            related = self.plan.death_treatment_related
            cause = "CAR-T related haemophagocytic syndrome" if related else "road traffic accident"
            await self.record(cmd.RecordDeath(actor=PHYSICIAN, died_on=died_on, cause=cause, treatment_related=related))
            self.say(f"died ({'treatment-related' if related else 'not treatment-related'})")

        return step

    def _lost(self, last_contact_on: date, missed: str) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            await self.record(
                cmd.RecordLostToFollowUp(
                    actor=COORDINATOR,
                    last_contact_on=last_contact_on,
                    reason=f"{missed} missed; family moved, no answer to calls or letters",
                )
            )
            self.say(f"{missed} missed, lost to follow-up")

        return step


# ---------------------------------------------------------------- the cohort on one clock


async def drive_in_time_order(scripts: list[Steps], clock: ServerClock) -> None:
    """Run every script's steps in time order; the steps of one moment run together.

    A script may ask twice for the same moment (two visits due the same day): the server's clock has moved on
    by a few milliseconds of real time since, so steps are ordered by the moments asked for, not by the clock.
    """
    queue: list[tuple[datetime, int, Steps]] = []
    moment = clock.now

    async def advance(index: int, script: Steps) -> None:
        asked = await anext(script, None)
        if asked is not None:
            assert asked >= moment, f"a step asked for {asked}, before {moment}"
            heapq.heappush(queue, (asked, index, script))

    for index, script in enumerate(scripts):
        await advance(index, script)
    while queue:
        moment = queue[0][0]
        batch = []
        while queue and queue[0][0] == moment:
            _, index, script = heapq.heappop(queue)
            batch.append((index, script))
        await clock.move_to(moment)
        await asyncio.gather(*(advance(index, script) for index, script in batch))


def compare(expected: ExpectedReport, report: TrialReport) -> tuple[str, ...]:
    """Every number of the report that differs from the cohort's plan."""
    e, p, t = report.enrollment, report.primary_endpoint.per_protocol, report.toxicity
    survival = report.secondary_endpoints
    itt = report.primary_endpoint.intention_to_treat
    pairs = {
        "patients": (expected.patients, e.patients),
        "screen failures": (expected.screen_failures, e.screen_failures),
        "by phase": (expected.by_phase, e.by_phase),
        "exits by reason": (expected.exits_by_reason, e.exits_by_reason),
        "infused": (expected.infused, p.patients),
        "assessed at one year": (expected.assessed, p.assessed),
        "complete responses": (expected.complete_responses, p.complete_responses),
        # Every enrolled child of the story is infused: by intention to treat the same counts.
        "intention to treat": (
            (expected.infused, expected.assessed, expected.complete_responses),
            (itt.patients, itt.assessed, itt.complete_responses),
        ),
        "highest CRS grades": (expected.highest_crs_grade, t.highest_crs_grade),
        "highest ICANS grades": (expected.highest_icans_grade, t.highest_icans_grade),
        "dose-limiting toxicities": (expected.dose_limiting_toxicities, t.dose_limiting_toxicities),
        "CR rate and its confidence interval": (expected.cr_rate, p.cr_rate),
        "stopping rule": (expected.stopping_rule, report.stopping_rule),
        "event-free survival events": (expected.event_free_survival_events, survival.event_free_survival.events),
        "overall survival events": (expected.overall_survival_events, survival.overall_survival.events),
    }
    return tuple(f"{name}: planned {want}, reported {got}" for name, (want, got) in pairs.items() if want != got)


class RecordInUse(ValueError):
    """The trial record to keep the demo in already holds patients: nothing was driven."""


async def run_demo(
    seed: int = DEFAULT_SEED,
    patients: int = DEFAULT_PATIENTS,
    protocol: TrialProtocol = CURRENT_PROTOCOL,
    say: Callable[[str], None] = print,
    record_url: str | None = None,
    accrual_target_infused: int | None = None,
    on_step: Callable[[DrivenStep], None] = ignore_step,
) -> DemoResult:
    """Start a time-skipping server, a worker and a trial record (thrown away, or the one at `record_url`, kept);
    drive the cohort; report. `accrual_target_infused` replaces the protocol's (a cohort larger than the trial's, in
    the benchmark); `on_step` sees each call to the trial the cohort's drive makes, as it begins. A run whose server
    stopped skipping time is driven again on new servers, into a new throw-away record (a kept record holds the
    first run's part: TimeSkippingStalled is raised)."""
    plan = plan_cohort(seed, patients, protocol)

    async def cohort() -> tuple[TrialReport, datetime]:
        return await _drive_into_record(plan, protocol, say, record_url, accrual_target_infused, on_step)

    (report, ended_at), cohort_restarts = await again_if_stalled(cohort, say, record_url is None)

    async def story() -> StoppingRuleStory:
        # On a server of its own: the cohort's journeys, in follow-up, keep their timers out of the story's way.
        story_env = await start_time_skipping(runtime=quiet_runtime())
        async with story_env:
            await register_search_attributes(story_env.client)
            return await run_stopping_rule_story(story_env, protocol, say, not_before=ended_at)

    stopping_rule_story, story_restarts = await again_if_stalled(story, say, can_retry=True)
    expected = expected_report(plan, protocol)
    mismatches = compare(expected, report)
    return DemoResult(
        cohort=plan,
        expected=expected,
        report=report,
        report_matches_cohort=not mismatches,
        mismatches=mismatches,
        stopping_rule_story=stopping_rule_story,
        restarts=cohort_restarts + story_restarts,
    )


async def again_if_stalled(
    run: Callable[[], Awaitable[T]], say: Callable[[str], None], can_retry: bool
) -> tuple[T, int]:
    """`run`, once more from the start on new servers if its time-skipping server stopped skipping time (a failure
    of that test server, not of the trial: workers/time_skipping.py, STALLED_AFTER); and how often it began again."""
    attempt = 1
    while True:
        try:
            return await run(), attempt - 1
        except TimeSkippingStalled as stall:
            if not can_retry or attempt == STALLED_RUN_ATTEMPTS:
                raise
            say(f"{stall}; driven again from the start on a new server.")
            attempt += 1


async def _drive_into_record(
    plan: CohortPlan,
    protocol: TrialProtocol,
    say: Callable[[str], None],
    record_url: str | None,
    accrual_target_infused: int | None,
    on_step: Callable[[DrivenStep], None],
) -> tuple[TrialReport, datetime]:
    """The cohort driven into a new throw-away trial record, or the empty one at `record_url`."""
    with tempfile.TemporaryDirectory(prefix="trial-demo-") as record_dir:
        if record_url is None:
            # Deleted with its directory at the end: no fsync at each commit (records/engine.py, `durable`).
            url, durable = f"sqlite:///{Path(record_dir) / 'trial-record.db'}", False
        else:
            url, durable = record_url, True
        store = EventStore(engine=create_record_engine(url, durable=durable))
        try:
            store.migrate()
            held = store.study_ids()
            if held:  # the report must be the cohort's alone to be checked against it
                shown = ", ".join(held[:5]) + (", ..." if len(held) > 5 else "")
                raise RecordInUse(
                    f"the trial record at {record_url} already holds {len(held)} patient(s) ({shown}): the demo "
                    "keeps its cohort in an empty trial record only"
                )
            return await _drive(plan, store, protocol, say, accrual_target_infused, on_step)
        finally:
            store.close()


async def _drive(
    plan: CohortPlan,
    store: EventStore,
    protocol: TrialProtocol,
    say: Callable[[str], None],
    accrual_target_infused: int | None = None,
    on_step: Callable[[DrivenStep], None] = ignore_step,
) -> tuple[TrialReport, datetime]:
    """The cohort's report, and the server's time when it was done (the safety story starts after it)."""
    env = await start_time_skipping(runtime=quiet_runtime())
    async with env:
        await register_search_attributes(env.client)
        task_queue = f"demo-{uuid.uuid4()}"
        async with journey_worker(env.client, store, task_queue=task_queue):
            clock = ServerClock(env, await server_time(env))
            trial = TrialClient(
                env.client,
                store,
                protocol,
                task_queue=task_queue,
                clock=clock,
                accrual_target_infused=accrual_target_infused,
            )
            first_day = site_date(clock.now, protocol.schedule) + timedelta(days=1)
            runs = [
                PatientRun(p, trial, clock, protocol, _patient_voice(p.study_id, clock, protocol, say), on_step)
                for p in plan.patients
            ]
            await drive_in_time_order([run.steps(first_day) for run in runs], clock)
            report = await trial.report()
        return report, await server_time(env)


def _patient_voice(
    study_id: str, clock: ServerClock, protocol: TrialProtocol, say: Callable[[str], None]
) -> Callable[[str], None]:
    """Progress lines carry the study id and the site date only: never a name or a birth date."""

    def voice(message: str) -> None:
        say(f"{site_date(clock.now, protocol.schedule)}  {study_id}  {message}")

    return voice


# ---------------------------------------------------------------- the command


def demo_lines(result: DemoResult) -> list[str]:
    """What the demo adds under the trial report: whether the report matches the cohort it meant."""
    if result.report_matches_cohort:
        return ["The report matches the cohort the demo generated."]
    return [f"report differs from the cohort: {mismatch}" for mismatch in result.mismatches]


def story_lines(story: StoppingRuleStory) -> list[str]:
    """The safety story in three lines: the pause and its posterior, who was told, the DSMB's resume."""
    rule, decision = story.paused.stopping_rule, story.decision
    told = ", ".join(f"{t.role.value} ({t.staff_id})" for t in story.told)
    return [
        f"Safety story: enrollment {story.paused.enrollment.value} by the stopping rule at {rule.toxicities} DLTs "
        f"among {rule.patients} evaluable patients (posterior {rule.posterior_probability:.3f}); told at once: {told}.",
        f"While paused: {len(story.enrollment_refused)} reason(s) refused an enrollment, "
        f"{len(story.lymphodepletion_refused)} a lymphodepletion.",
        f"The DSMB's signed decision {decision.decision_id} ({decision.decided_by}, {decision.outcome.value}): "
        f"enrollment {story.resumed.enrollment.value} again; {story.after_resume.admitted} patients admitted.",
    ]


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="The same seed enrolls the same cohort.")] = DEFAULT_SEED,
    patients: Annotated[
        int, typer.Option(min=MIN_COHORT, max=MAX_COHORT, help="How many children to enroll.")
    ] = DEFAULT_PATIENTS,
    as_json: JsonOption = False,
    record_url: Annotated[
        str | None,
        typer.Option(
            "--record-url",
            metavar="URL",
            help=(
                "Keep the cohort's trial record here (an empty one: SQLite sqlite:///path or PostgreSQL), so that "
                "`trial report` and the exports can be tried on it. Default: a throw-away record."
            ),
        ),
    ] = None,
) -> None:
    """Enroll a synthetic cohort on a throw-away time-skipping server, drive it through the protocol (screen
    failures, a manufacturing failure, CRS and ICANS, a relapse, a death, missed visits, a patient lost to
    follow-up, the one-year assessment), then print the trial report as `trial report` does; then a safety story
    on a trial of its own: two DLTs fire the stopping rule (enrollment paused, staff and the DSMB told) and the
    DSMB's signed decision resumes enrollment. Exits 1 if the report does not match the cohort it generated."""
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    progress = err if as_json else out
    started = time.monotonic()
    configure_logging(level="WARNING", stream=sys.stderr)  # the worker's routine lines would drown the story
    progress.print(f"Demo cohort: {patients} children, seed {seed}; a time-skipping Temporal server is starting.")

    def say(line: str) -> None:
        progress.print(line, markup=False, soft_wrap=True)

    try:
        result = asyncio.run(run_demo(seed, patients, say=say, record_url=record_url))
    except RecordInUse as refusal:
        err.print(str(refusal), style="red", markup=False, soft_wrap=True)
        raise typer.Exit(USAGE_ERROR_EXIT_CODE) from None
    except TimeSkippingStalled as stall:
        again = "Run the demo again" if record_url is None else "Run the demo again with an empty trial record"
        err.print(f"{stall}. {again}.", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    progress.print(f"Done in {time.monotonic() - started:.1f} s (wall clock).")
    if as_json:
        print_json(result)
    else:
        print_report(out, result.report)  # the very layout of `trial report`
        if result.report_matches_cohort:
            out.print(demo_lines(result)[0])
        for line in story_lines(result.stopping_rule_story):
            out.print(line, markup=False, soft_wrap=True)
    if record_url is not None:
        progress.print(
            f"The trial record is kept at {record_url}: an API started with TRIALFLOW_DATABASE_URL set to it "
            "serves its `trial report`.",
            markup=False,
        )
    for line in () if result.report_matches_cohort else demo_lines(result):
        err.print(line, style="red", markup=False)
    if result.mismatches:
        raise typer.Exit(1)


def main() -> NoReturn:
    """The `trial-demo` command."""
    run_app(app)
