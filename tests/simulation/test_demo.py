"""`trial-demo`: the cohort plan is varied and deterministic, its clinical data grade as planned, and the report
the demo prints after driving the cohort on a time-skipping server matches the cohort it generated."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from temporalio.client import Client
from typer.testing import CliRunner

from api.app import create_app
from cli.common import USAGE_ERROR_EXIT_CODE
from cli.report_view import print_report
from domain.amendment import amend
from domain.eligibility import assess_eligibility
from domain.journey.phases import ExitReason, Phase
from domain.protocol import PROTOCOL_V1
from domain.response import ResponseCategory, assess_relapse, classify_response
from domain.roles import Role
from domain.toxicity import grade_crs, grade_icans
from facade import TrialClient, TrialReport
from records import EventStore
from security.token_file import TokenFile
from simulation.cohort import (
    MAX_COHORT,
    MIN_COHORT,
    CohortPlan,
    Outcome,
    crs_findings_for,
    expected_report,
    icans_findings_for,
    marrow_for,
    plan_cohort,
    screening_for,
)
from simulation.demo import (
    STALLED_RUN_ATTEMPTS,
    DemoResult,
    again_if_stalled,
    app,
    compare,
    demo_lines,
    drive_in_time_order,
    run_demo,
    story_lines,
)
from simulation.stopping_rule_story import FIRST_DLT, LATECOMER, SECOND_DLT, WAITING
from tests.cli.trial_cli import TrialCli, served
from tests.simulation.kept_demo import KeptDemo, demo_with_kept_record
from workers.time_skipping import STALLED_AFTER, TimeSkippingStalled

SEED = 11
SCREENED_ON = date(2026, 1, 5)
seeds = st.integers(min_value=0, max_value=2**32)
sizes = st.integers(min_value=MIN_COHORT, max_value=MAX_COHORT)


# ---------------------------------------------------------------- the plan


@given(seed=seeds, size=sizes)
@settings(max_examples=60, deadline=None)
def test_every_cohort_tells_the_whole_story(seed: int, size: int) -> None:
    plan = plan_cohort(seed, size, PROTOCOL_V1)
    patients = plan.patients
    outcomes = Counter(p.outcome for p in patients)
    infused = [p for p in patients if p.infused]
    assert len(patients) == size
    assert len({p.study_id for p in patients}) == size
    assert outcomes[Outcome.SCREEN_FAILURE] == 2
    assert outcomes[Outcome.RELAPSE] == outcomes[Outcome.DEATH] == outcomes[Outcome.LOST_TO_FOLLOW_UP] == 1
    assert outcomes[Outcome.CR_AT_ONE_YEAR] >= 1 and outcomes[Outcome.NOT_CR_AT_ONE_YEAR] >= 1
    assert all(p.failed_criteria for p in patients if not p.infused)
    assert [p.crs_grade for p in infused].count(3) == 1  # exactly one 24 h report from CRS
    assert {1, 2} <= {p.crs_grade for p in infused}
    assert sum(1 for p in infused if p.icans_grade) == 1
    recollected = [p for p in patients if p.manufacturing_failure]
    assert len(recollected) == 1 and recollected[0].outcome is Outcome.CR_AT_ONE_YEAR
    endpoint = f"M{PROTOCOL_V1.response.primary_endpoint_months}"
    assert all(endpoint not in p.missed_visits and "MRD" not in p.missed_visits for p in patients)
    assert all(p.event_month is not None for p in patients if p.outcome in (Outcome.RELAPSE, Outcome.DEATH))
    days = [p.enrolled_on_day for p in patients]
    assert days == sorted(days) and len(set(days)) == size


@given(seed=seeds)
@settings(max_examples=20, deadline=None)
def test_the_same_seed_gives_the_same_cohort(seed: int) -> None:
    assert plan_cohort(seed, 10, PROTOCOL_V1) == plan_cohort(seed, 10, PROTOCOL_V1)


def test_other_seeds_give_other_cohorts() -> None:
    plans = {plan_cohort(seed, 10, PROTOCOL_V1).model_dump_json(exclude={"seed"}) for seed in range(10)}
    assert len(plans) == 10


@pytest.mark.parametrize("size", [MIN_COHORT - 1, MAX_COHORT + 1])
def test_a_cohort_too_small_for_the_story_or_too_big_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="patients"):
        plan_cohort(SEED, size, PROTOCOL_V1)


def test_the_expected_report_counts_the_plan() -> None:
    plan = plan_cohort(SEED, 12, PROTOCOL_V1)
    expected = expected_report(plan, PROTOCOL_V1)
    completers = [p for p in plan.patients if p.outcome in (Outcome.CR_AT_ONE_YEAR, Outcome.NOT_CR_AT_ONE_YEAR)]
    assert expected.patients == 12 and expected.screen_failures == 2 and expected.infused == expected.assessed == 10
    assert expected.by_phase[Phase.FOLLOW_UP] == len(completers)
    assert expected.by_phase[Phase.SURVIVAL_FOLLOW_UP] == 1
    assert expected.by_phase[Phase.OFF_STUDY] == 4  # two screen failures, the death, the departure
    assert expected.exits_by_reason[ExitReason.DEATH] == expected.exits_by_reason[ExitReason.LOST_TO_FOLLOW_UP] == 1
    assert sum(expected.highest_crs_grade.values()) == sum(expected.highest_icans_grade.values()) == 10
    death = next(p for p in plan.patients if p.outcome is Outcome.DEATH)
    assert expected.dose_limiting_toxicities == 1 + death.death_treatment_related


def test_a_treatment_related_death_is_a_dose_limiting_toxicity() -> None:
    plan = plan_cohort(SEED, 10, PROTOCOL_V1)
    related, unrelated = (
        CohortPlan(
            seed=plan.seed,
            patients=tuple(
                p.model_copy(update={"death_treatment_related": flag}) if p.outcome is Outcome.DEATH else p
                for p in plan.patients
            ),
        )
        for flag in (True, False)
    )
    assert (
        expected_report(related, PROTOCOL_V1).dose_limiting_toxicities
        == expected_report(unrelated, PROTOCOL_V1).dose_limiting_toxicities + 1
    )


# ---------------------------------------------------------------- the clinical data grade as planned


@pytest.mark.parametrize("grade", [0, 1, 2, 3])
def test_crs_findings_grade_as_planned(grade: int) -> None:
    assert grade_crs(crs_findings_for(grade, PROTOCOL_V1), PROTOCOL_V1.crs).grade == grade


@pytest.mark.parametrize("grade", [0, 1, 2])
@pytest.mark.parametrize("age", [4, 11])
def test_icans_findings_grade_as_planned(grade: int, age: int) -> None:
    assert grade_icans(icans_findings_for(grade), age, PROTOCOL_V1.icans).grade == grade


@pytest.mark.parametrize(
    ("response", "category", "relapse"),
    [
        ("cr", ResponseCategory.CR, False),
        ("counts_not_recovered", ResponseCategory.CRI, False),
        ("relapse", None, True),
    ],
)
def test_marrows_read_as_planned(response: str, category: ResponseCategory | None, relapse: bool) -> None:
    marrow = marrow_for(SCREENED_ON, PROTOCOL_V1, response=response)
    if category is not None:
        assert classify_response(marrow, PROTOCOL_V1.response).category is category
    assert assess_relapse(marrow.marrow_blasts_percent, (), PROTOCOL_V1.response).relapse is relapse


@given(seed=seeds)
@settings(max_examples=30, deadline=None)
def test_screening_fails_exactly_where_the_plan_says(seed: int) -> None:
    for patient in plan_cohort(seed, 10, PROTOCOL_V1).patients:
        result = assess_eligibility(screening_for(patient, SCREENED_ON, PROTOCOL_V1), PROTOCOL_V1.eligibility)
        assert result.eligible is patient.infused
        assert len(result.failed) == len(patient.failed_criteria)


def test_screen_failures_follow_an_amended_threshold() -> None:
    amended = amend(PROTOCOL_V1, "9.9-demo", eligibility={"min_performance_score": 70})
    patient = next(
        p
        for seed in range(100)
        for p in plan_cohort(seed, 10, amended).patients
        if p.failed_criteria == ("performance_score",)
    )
    data = screening_for(patient, SCREENED_ON, amended)
    assert data.performance_score < 70
    assert not assess_eligibility(data, amended.eligibility).eligible


# ---------------------------------------------------------------- the demo on a time-skipping server


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def kept_demo(tmp_path_factory: pytest.TempPathFactory) -> KeptDemo:
    """The demo, its trial record kept (`--record-url`)."""
    return await demo_with_kept_record(tmp_path_factory, seed=SEED, patients=10)


@pytest.fixture(scope="module")
def demo_run(kept_demo: KeptDemo) -> tuple[DemoResult, list[str]]:
    return kept_demo.result, kept_demo.lines


@pytest.fixture(scope="module")
def kept_record(kept_demo: KeptDemo) -> str:
    return kept_demo.record_url


def test_the_report_matches_the_cohort_the_demo_generated(demo_run: tuple[DemoResult, list[str]]) -> None:
    result, _ = demo_run
    plan, report = result.cohort, result.report
    assert plan == plan_cohort(SEED, 10, PROTOCOL_V1)
    infused = [p for p in plan.patients if p.infused]
    outcomes = Counter(p.outcome for p in plan.patients)

    assert report.enrollment.patients == 10
    assert report.enrollment.screen_failures == outcomes[Outcome.SCREEN_FAILURE] == 2
    assert report.enrollment.by_phase == expected_report(plan, PROTOCOL_V1).by_phase
    assert report.enrollment.by_phase[Phase.OFF_STUDY] == 4
    assert report.enrollment.by_phase[Phase.SURVIVAL_FOLLOW_UP] == 1
    assert report.enrollment.exits_by_reason[ExitReason.LOST_TO_FOLLOW_UP] == 1

    endpoint = report.primary_endpoint.per_protocol
    assert endpoint.patients == endpoint.assessed == len(infused) == 8
    assert report.primary_endpoint.intention_to_treat == endpoint  # every enrolled child of the story is infused
    assert endpoint.pending == 0
    assert endpoint.complete_responses == outcomes[Outcome.CR_AT_ONE_YEAR]
    assert endpoint.cr_rate.successes == outcomes[Outcome.CR_AT_ONE_YEAR] and endpoint.cr_rate.total == 8

    crs, icans = Counter(p.crs_grade for p in infused), Counter(p.icans_grade for p in infused)
    assert {g: n for g, n in report.toxicity.highest_crs_grade.items() if n} == dict(crs)
    assert {g: n for g, n in report.toxicity.highest_icans_grade.items() if n} == dict(icans)
    death = next(p for p in plan.patients if p.outcome is Outcome.DEATH)
    assert report.toxicity.dose_limiting_toxicities == 1 + death.death_treatment_related
    assert report.stopping_rule.patients == 8
    # One relapse and one death: two event-free-survival events, one of overall survival; everyone else censored.
    secondary = report.secondary_endpoints
    assert (secondary.event_free_survival.events, secondary.event_free_survival.censored) == (2, 6)
    assert (secondary.overall_survival.events, secondary.overall_survival.censored) == (1, 7)
    assert secondary.mrd_negative_at_day_28.total == 8
    assert result.report_matches_cohort and result.mismatches == ()


def test_progress_names_study_ids_only(demo_run: tuple[DemoResult, list[str]]) -> None:
    result, lines = demo_run
    study_ids = {p.study_id for p in result.cohort.patients}
    # The safety story's lines come last, naming its own patients or its trial.
    story = {"trial", FIRST_DLT, WAITING, SECOND_DLT, LATECOMER}
    assert all(any(f"  {s}  " in line for s in study_ids | story) for line in lines)
    assert {s for s in study_ids if any(f"  {s}  " in line for line in lines)} == study_ids
    birth_dates = set()
    for patient in result.cohort.patients:
        screened_on = next(
            date.fromisoformat(line[:10]) for line in lines if f"  {patient.study_id}  " in line
        )  # the first line is the screening day
        birth_dates.add(screening_for(patient, screened_on, PROTOCOL_V1).date_of_birth.isoformat())
    assert not any(b in line for b in birth_dates for line in lines)
    assert sum("screen failure:" in line for line in lines) == 2
    assert sum("sent to the sponsor on time" in line for line in lines) == 2  # the grade 3 CRS and the death
    assert any("manufacturing failed" in line for line in lines)
    assert any(re.search(r"M\d+ missed", line) for line in lines)
    dates = [date.fromisoformat(line[:10]) for line in lines]
    assert dates == sorted(dates)
    assert dates[-1] - dates[0] > timedelta(days=365)


def test_a_report_that_differs_from_the_cohort_is_caught(demo_run: tuple[DemoResult, list[str]]) -> None:
    result, _ = demo_run
    report = result.report
    wrong = report.model_copy(
        update={
            "toxicity": report.toxicity.model_copy(
                update={"dose_limiting_toxicities": report.toxicity.dose_limiting_toxicities + 1}
            ),
            "enrollment": report.enrollment.model_copy(update={"screen_failures": 3}),
        }
    )
    mismatches = compare(result.expected, wrong)
    assert len(mismatches) == 2
    assert any(m.startswith("dose-limiting toxicities") for m in mismatches)
    assert any(m.startswith("screen failures: planned 2, reported 3") for m in mismatches)

    per_protocol = report.primary_endpoint.per_protocol
    rate = per_protocol.cr_rate
    off_interval = report.primary_endpoint.model_copy(
        update={"per_protocol": per_protocol.model_copy(update={"cr_rate": rate.model_copy(update={"ci_low": 0.01})})}
    )
    paused = report.stopping_rule.model_copy(update={"paused": True, "explanation": "paused"})
    [ci, rule] = compare(
        result.expected, report.model_copy(update={"primary_endpoint": off_interval, "stopping_rule": paused})
    )
    assert ci.startswith("CR rate and its confidence interval") and rule.startswith("stopping rule")


def test_the_report_is_printed_and_its_json_reads_back(demo_run: tuple[DemoResult, list[str]]) -> None:
    result, _ = demo_run
    console = Console(record=True, width=200)
    print_report(console, result.report)
    text = console.export_text()
    rate = result.report.primary_endpoint.intention_to_treat.cr_rate
    assert f"{rate.ci_low:.1%} to {rate.ci_high:.1%} (Clopper-Pearson)" in text
    assert f"Dose-limiting toxicities │ {result.report.toxicity.dose_limiting_toxicities}" in text
    assert "survival follow up" in text and "Event-free survival (Kaplan-Meier)" in text
    assert demo_lines(result) == ["The report matches the cohort the demo generated."]
    assert DemoResult.model_validate_json(result.model_dump_json()) == result


def test_the_safety_story_is_told_under_the_report(demo_run: tuple[DemoResult, list[str]]) -> None:
    result, _ = demo_run
    text = " ".join(story_lines(result.stopping_rule_story))
    story = result.stopping_rule_story
    assert f"Safety story: enrollment paused by the stopping rule at 2 DLTs among 2 evaluable patients (posterior " \
        f"{story.paused.stopping_rule.posterior_probability:.3f})" in text  # fmt: skip
    assert "The DSMB's signed decision DSMB-DEMO-1 (safety-dsmb, resume): enrollment open again" in text


def test_the_command_refuses_a_cohort_too_small_for_the_story() -> None:
    outcome = CliRunner().invoke(app, ["--patients", str(MIN_COHORT - 1)])
    assert outcome.exit_code == USAGE_ERROR_EXIT_CODE


class DriftingClock:
    """A stand-in for the server clock: each move lands a few milliseconds late, as real time runs on."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.moves: list[datetime] = []

    async def move_to(self, moment: datetime) -> None:
        self.moves.append(moment)
        self.now = max(self.now, moment) + timedelta(milliseconds=5)


async def test_steps_run_in_time_order_even_when_a_script_asks_twice_for_one_moment() -> None:
    start = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    clock = DriftingClock(start)
    done: list[tuple[str, datetime]] = []

    async def script(name: str, hours: list[int]) -> AsyncIterator[datetime]:
        for hour in hours:
            yield start + timedelta(hours=hour)
            done.append((name, clock.now))

    await drive_in_time_order([script("a", [1, 1, 3]), script("b", [0, 2])], clock)  # type: ignore[arg-type]
    assert [name for name, _ in done] == ["b", "a", "a", "b", "a"]
    assert clock.moves == sorted(clock.moves)
    assert len(set(clock.moves)) == 4  # the two steps of one moment: one move


async def test_a_script_asking_for_an_earlier_moment_is_a_bug() -> None:
    start = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)

    async def backwards() -> AsyncIterator[datetime]:
        yield start + timedelta(hours=2)
        yield start + timedelta(hours=1)

    with pytest.raises(AssertionError, match="before"):
        await drive_in_time_order([backwards()], DriftingClock(start))  # type: ignore[arg-type]


# ---------------------------------------------------------------- the kept record


async def test_the_kept_record_gives_trial_report_the_cohort(
    demo_run: tuple[DemoResult, list[str]], kept_record: str, tmp_path: Path
) -> None:
    """`trial-demo --record-url`: an API over the kept record (Temporal gone with the demo) reports the cohort,
    in the layout the demo printed."""
    result, _ = demo_run
    store = EventStore(kept_record)
    try:
        token_file = TokenFile(tmp_path / "api-tokens.json")
        async with served(create_app(TrialClient(cast(Client, None), store), token_file)) as url:
            cli = TrialCli(
                env={
                    "TRIALFLOW_API_URL": url,
                    "TRIALFLOW_CONFIG_DIR": str(tmp_path / "config"),
                    "TRIALFLOW_PROFILE": "",
                    "COLUMNS": "200",
                },
                token_file=token_file,
            )
            token = cli.token("sup-demo", Role.SUPERVISOR)
            login = await cli("login", "--profile", "sup-demo", "--token-stdin", stdin=token + "\n")
            assert login.exit_code == 0, login.output
            reported = await cli("report", "--json", env={"TRIALFLOW_PROFILE": "sup-demo"})
            readable = await cli("report", env={"TRIALFLOW_PROFILE": "sup-demo"})
    finally:
        store.close()
    assert reported.exit_code == 0, reported.output
    report = TrialReport.model_validate_json(reported.stdout)
    assert report.model_copy(update={"verification": result.report.verification}) == result.report
    console = Console(record=True, width=200)
    print_report(console, result.report)
    assert readable.stdout.split("\n", 1)[1] == console.export_text().split("\n", 1)[1]


def test_the_demo_refuses_a_record_that_holds_patients(
    kept_record: str, demo_run: tuple[DemoResult, list[str]]
) -> None:
    store = EventStore(kept_record)
    try:
        before = store.study_ids()
    finally:
        store.close()
    outcome = CliRunner().invoke(app, ["--record-url", kept_record])
    assert outcome.exit_code == USAGE_ERROR_EXIT_CODE
    said = " ".join(outcome.output.split())
    assert f"already holds {len(before)} patient(s)" in said and "empty trial record only" in said
    store = EventStore(kept_record)
    try:
        assert store.study_ids() == before
    finally:
        store.close()


async def test_a_cohort_larger_than_the_trials_target_is_admitted_when_the_target_is_lifted() -> None:
    """The benchmark's cohort of 100 is five times the trial's target of 20 (it was refused at the 21st patient until
    the benchmark lifted the target): here a trial that takes two, lifted to the cohort."""
    small_trial = PROTOCOL_V1.model_copy(
        update={"accrual": PROTOCOL_V1.accrual.model_copy(update={"accrual_target_infused": 2})}
    )
    lifted = await run_demo(
        seed=SEED, patients=MIN_COHORT, protocol=small_trial, say=lambda _line: None, accrual_target_infused=MIN_COHORT
    )
    assert lifted.report_matches_cohort, lifted.mismatches


async def test_a_run_whose_server_stalled_is_driven_again_once_unless_its_record_is_kept() -> None:
    at = datetime(2027, 2, 18, 9, tzinfo=UTC)
    runs: list[int] = []

    async def stalls_first(times: int) -> str:
        runs.append(len(runs))
        if len(runs) <= times:
            raise TimeSkippingStalled(at, at + timedelta(days=1), STALLED_AFTER)
        return "the report"

    said: list[str] = []
    assert await again_if_stalled(lambda: stalls_first(1), said.append, can_retry=True) == ("the report", 1)
    stalled = TimeSkippingStalled(at, at + timedelta(days=1), STALLED_AFTER)
    assert len(runs) == 2 and said == [f"{stalled}; driven again from the start on a new server."]
    runs.clear()
    with pytest.raises(TimeSkippingStalled):  # a kept record holds the stalled run's part
        await again_if_stalled(lambda: stalls_first(1), said.append, can_retry=False)
    assert len(runs) == 1
    runs.clear()
    with pytest.raises(TimeSkippingStalled):
        await again_if_stalled(lambda: stalls_first(STALLED_RUN_ATTEMPTS), said.append, can_retry=True)
    assert len(runs) == STALLED_RUN_ATTEMPTS
