"""The trial report's arithmetic: hand-built patient summaries, and a cohort built from pure domain events."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.client import Client

from activities.projections import project_patient
from domain.amendment import amend
from domain.journey import commands as cmd
from domain.journey.calendar import scheduled_items
from domain.journey.phases import ExitReason, Phase
from domain.journey.status_view import ExitRecord, PatientStatus, PrimaryEndpoint
from domain.journey.views import patient_status
from domain.protocol import PROTOCOL_V1
from domain.statistics import clopper_pearson_interval, evaluate_stopping_rule, stopping_boundary
from domain.toxicity import ASTCT_MAX_GRADE
from facade import TrialClient, build_report
from facade.report import ENROLLED_PHASES, status_from_summary
from records import PatientSummary
from records.event_rows import to_row
from tests.domain.journey_driver import (
    COORDINATOR,
    LAB,
    NURSE,
    PHYSICIAN,
    JourneyDriver,
    crs_findings,
    icans_findings,
    marrow,
    screening,
)
from tests.servers import new_store

INFUSED_ON = date(2026, 2, 1)


def patient(
    number: int,
    phase: Phase = Phase.FOLLOW_UP,
    *,
    infused: bool = True,
    endpoint: PrimaryEndpoint = "pending",
    crs: int = 0,
    icans: int = 0,
    dlt: bool = False,
    exit: ExitReason | None = None,
) -> PatientStatus:
    """A hand-built summary: only what the report reads differs from one patient to the next."""
    return PatientStatus(
        study_id=f"TF-{number:03d}",
        protocol_version=PROTOCOL_V1.version,
        phase=phase,
        chain_of_identity=None,
        failed_criteria=("prior CAR-T therapy",) if exit is ExitReason.SCREEN_FAILURE else (),
        bsa_m2=None,
        prescribed_daily_mg={},
        doses_given=(),
        product_classification=None,
        infused_on=INFUSED_ON if infused else None,
        cells_per_kg=3e6 if infused else None,
        deviations=(),
        highest_crs_grade=crs,
        highest_icans_grade=icans,
        open_expedited_reports=(),
        due=(),
        next_due=None,
        overdue=False,
        visits=(),
        relapse_on=None,
        exit=ExitRecord(reason=exit, on=INFUSED_ON, details="") if exit else None,
        dose_limiting_toxicity=dlt,
        primary_endpoint=endpoint if infused else _before_infusion(exit),
        last_sequence=10,
    )


def _before_infusion(exit: ExitReason | None) -> PrimaryEndpoint:
    """By intention to treat: a screen failure is not evaluable, an enrolled patient who left is a failure."""
    if exit is ExitReason.SCREEN_FAILURE:
        return "not_evaluable"
    return "not_cr" if exit is not None else "pending"


# Ten patients: three CRs, three failures (a relapse, a treatment-related death, a departure), one not yet at one
# year, and three never infused (a screen failure, one in apheresis, a death during lymphodepletion).
COHORT = [
    patient(1, endpoint="cr", crs=1),
    patient(2, Phase.LONG_TERM_FOLLOW_UP, endpoint="cr", crs=2, icans=1),
    patient(3, endpoint="cr"),
    patient(4, Phase.SURVIVAL_FOLLOW_UP, endpoint="not_cr", crs=1),
    patient(5, Phase.OFF_STUDY, endpoint="not_cr", crs=4, dlt=True, exit=ExitReason.DEATH),
    patient(6, Phase.TOXICITY_OBSERVATION, endpoint="pending", crs=3, icans=3, dlt=True),
    patient(7, Phase.OFF_STUDY, infused=False, exit=ExitReason.SCREEN_FAILURE),
    patient(8, Phase.APHERESIS, infused=False),
    patient(9, Phase.OFF_STUDY, infused=False, dlt=True, exit=ExitReason.DEATH),
    patient(10, Phase.OFF_STUDY, endpoint="not_cr", exit=ExitReason.LOST_TO_FOLLOW_UP),
]


def test_the_worked_cohort() -> None:
    report = build_report(COHORT, PROTOCOL_V1)

    assert report.protocol_version == "1.0"
    assert report.enrollment.patients == 10
    assert {phase: n for phase, n in report.enrollment.by_phase.items() if n} == {
        Phase.FOLLOW_UP: 2,
        Phase.LONG_TERM_FOLLOW_UP: 1,
        Phase.SURVIVAL_FOLLOW_UP: 1,
        Phase.TOXICITY_OBSERVATION: 1,
        Phase.APHERESIS: 1,
        Phase.OFF_STUDY: 4,
    }
    assert report.enrollment.screen_failures == 1
    # Counted apart: the screen failure is screened, never enrolled (summaries without `enrolled` go by phase).
    counts = report.enrollment
    assert (counts.screened, counts.screening_attempts, counts.enrolled, counts.infused) == (10, 10, 9, 7)
    assert {r: n for r, n in report.enrollment.exits_by_reason.items() if n} == {
        ExitReason.DEATH: 2,
        ExitReason.SCREEN_FAILURE: 1,
        ExitReason.LOST_TO_FOLLOW_UP: 1,
    }

    # Per protocol, CR at one year: 3 of the 6 infused patients whose year is over; the one still pending is not
    # counted yet.
    endpoint = report.primary_endpoint.per_protocol
    assert (endpoint.patients, endpoint.assessed, endpoint.complete_responses, endpoint.pending) == (7, 6, 3, 1)
    # By intention to treat (the primary analysis): the nine enrolled; the death during lymphodepletion is a
    # failure, the patient in apheresis is pending, the screen failure is not in it.
    itt = report.primary_endpoint.intention_to_treat
    assert (itt.patients, itt.assessed, itt.complete_responses, itt.pending) == (9, 7, 3, 2)
    assert (itt.cr_rate.ci_low, itt.cr_rate.ci_high) == clopper_pearson_interval(3, 7, 0.95)
    rate = endpoint.cr_rate
    assert (rate.successes, rate.total, rate.rate, rate.confidence) == (3, 6, 0.5, 0.95)
    # The exact 95 % interval for 3 of 6, as published tables give it: 11.8 % to 88.2 %.
    assert (round(rate.ci_low, 4), round(rate.ci_high, 4)) == (0.1181, 0.8819)

    # Grades of the seven infused patients, each at their highest; the never-infused are not counted.
    assert report.toxicity.patients == 7
    assert report.toxicity.highest_crs_grade == {0: 2, 1: 2, 2: 1, 3: 1, 4: 1}
    assert report.toxicity.highest_icans_grade == {0: 5, 1: 1, 2: 0, 3: 1, 4: 0}
    # Two DLTs among the infused; the death during lymphodepletion is not in the rule's count.
    assert report.toxicity.dose_limiting_toxicities == 2
    assert report.stopping_rule == evaluate_stopping_rule(2, 7, PROTOCOL_V1.stopping_rule)
    assert report.stopping_rule.patients == 7 and report.stopping_rule.toxicities == 2

    # Summaries stored before the survival dates were kept: a death is read from the exit (patient 5, on the day
    # of infusion here), everyone else is censored at the latest date their summary holds.
    survival = report.secondary_endpoints.overall_survival
    assert (survival.patients, survival.events, survival.censored) == (7, 1, 6)
    assert report.secondary_endpoints.event_free_survival.events == 1


def test_screened_screen_failures_enrolled_and_infused_are_counted_apart_from_the_domains_view() -> None:
    """One screen failure, one screen failure screened again and eligible (awaiting confirmation), one enrolled
    and one infused: four screened in five screenings, one screen failure, two enrolled, one infused."""
    failed = JourneyDriver("TF-001")
    failed.enroll(prior_car_t=True)
    rescreened = JourneyDriver("TF-002")
    rescreened.enroll(prior_car_t=True)
    rescreened.do(
        cmd.EnrollPatient(actor=COORDINATOR, study_id="TF-002", screening=screening(screening_date=rescreened.today))
    )
    enrolled = JourneyDriver("TF-003")
    enrolled.to_apheresis()
    infused = JourneyDriver("TF-004")
    infused.to_follow_up()
    statuses = [patient_status(j.state, j.protocol, j.now) for j in (failed, rescreened, enrolled, infused)]
    report = build_report(statuses, PROTOCOL_V1)
    counts = report.enrollment
    assert (counts.screened, counts.screening_attempts, counts.screen_failures) == (4, 5, 1)
    assert (counts.enrolled, counts.infused) == (2, 1)
    assert [s.enrolled for s in statuses] == [False, False, True, True]


def test_an_empty_trial_reports_zeros_and_an_interval_that_knows_nothing() -> None:
    report = build_report([], PROTOCOL_V1)

    assert report.enrollment.patients == 0
    assert set(report.enrollment.by_phase) == set(ENROLLED_PHASES) and Phase.NOT_ENROLLED not in ENROLLED_PHASES
    assert not any(report.enrollment.by_phase.values())
    for analysis in (report.primary_endpoint.intention_to_treat, report.primary_endpoint.per_protocol):
        assert analysis.cr_rate.rate is None
        assert (analysis.cr_rate.ci_low, analysis.cr_rate.ci_high) == (0.0, 1.0)
    secondary = report.secondary_endpoints
    assert secondary.event_free_survival.patients == 0 and secondary.event_free_survival.curve == ()
    assert secondary.crs_any_grade.rate is None
    assert report.toxicity.highest_crs_grade == dict.fromkeys(range(ASTCT_MAX_GRADE + 1), 0)
    assert not report.stopping_rule.paused and report.stopping_rule.patients == 0


def test_every_responder_gives_an_upper_limit_of_one_and_none_a_lower_limit_of_zero() -> None:
    all_cr = build_report([patient(n, endpoint="cr") for n in range(4)], PROTOCOL_V1).primary_endpoint.per_protocol
    none_cr = build_report([patient(n, endpoint="not_cr") for n in range(4)], PROTOCOL_V1).primary_endpoint.per_protocol
    all_rate, none_rate = all_cr.cr_rate, none_cr.cr_rate
    assert (all_rate.rate, all_rate.ci_high) == (1.0, 1.0) and all_rate.ci_low == pytest.approx(0.3976, abs=1e-4)
    assert (none_rate.rate, none_rate.ci_low) == (0.0, 0.0) and none_rate.ci_high == pytest.approx(0.6024, abs=1e-4)


def test_the_confidence_level_comes_from_the_protocol() -> None:
    amended = amend(PROTOCOL_V1, "1.1-test", response={"confidence_level": 0.9})
    rate = build_report(COHORT, amended).primary_endpoint.per_protocol.cr_rate
    assert rate.confidence == 0.9
    assert (rate.ci_low, rate.ci_high) == clopper_pearson_interval(3, 6, 0.9)
    assert rate.ci_high < build_report(COHORT, PROTOCOL_V1).primary_endpoint.per_protocol.cr_rate.ci_high


@pytest.mark.parametrize("infused", [3, 6, 10])
def test_enrollment_pauses_exactly_at_the_computed_boundary(infused: int) -> None:
    boundary = stopping_boundary(infused, PROTOCOL_V1.stopping_rule)[infused]
    assert boundary is not None and boundary >= 1

    def with_dlts(count: int) -> list[PatientStatus]:
        return [patient(n, dlt=n < count, crs=3 if n < count else 0) for n in range(infused)]

    below = build_report(with_dlts(boundary - 1), PROTOCOL_V1).stopping_rule
    at = build_report(with_dlts(boundary), PROTOCOL_V1).stopping_rule
    assert (below.toxicities, below.paused) == (boundary - 1, False)
    assert (at.toxicities, at.paused) == (boundary, True)
    # Never-infused patients with a DLT do not move the rule.
    never_infused = [patient(100 + n, Phase.OFF_STUDY, infused=False, dlt=True) for n in range(5)]
    assert build_report(with_dlts(boundary - 1) + never_infused, PROTOCOL_V1).stopping_rule == below


phases = st.sampled_from(ENROLLED_PHASES)
endpoints: st.SearchStrategy[PrimaryEndpoint] = st.sampled_from(["cr", "not_cr", "pending"])
grades = st.integers(0, ASTCT_MAX_GRADE)


@st.composite
def summaries(draw: st.DrawFn) -> PatientStatus:
    return patient(
        draw(st.integers(1, 999)),
        draw(phases),
        infused=draw(st.booleans()),
        endpoint=draw(endpoints),
        crs=draw(grades),
        icans=draw(grades),
        dlt=draw(st.booleans()),
        exit=draw(st.none() | st.sampled_from(list(ExitReason))),
    )


@given(st.lists(summaries(), max_size=40))
def test_every_count_adds_up(cohort: list[PatientStatus]) -> None:
    report = build_report(cohort, PROTOCOL_V1)
    infused = [p for p in cohort if p.infused_on is not None]

    assert sum(report.enrollment.by_phase.values()) == report.enrollment.patients == len(cohort)
    assert sum(report.enrollment.exits_by_reason.values()) == sum(1 for p in cohort if p.exit)
    endpoint = report.primary_endpoint.per_protocol
    assert endpoint.assessed + endpoint.pending == endpoint.patients == len(infused)
    itt = report.primary_endpoint.intention_to_treat
    assert itt.assessed + itt.pending == itt.patients >= endpoint.patients
    assert endpoint.complete_responses == endpoint.cr_rate.successes <= endpoint.assessed == endpoint.cr_rate.total
    if endpoint.assessed:
        assert endpoint.cr_rate.ci_low <= endpoint.complete_responses / endpoint.assessed <= endpoint.cr_rate.ci_high
    assert sum(report.toxicity.highest_crs_grade.values()) == sum(report.toxicity.highest_icans_grade.values())
    assert sum(report.toxicity.highest_crs_grade.values()) == len(infused)
    assert report.stopping_rule.patients == len(infused)
    assert report.stopping_rule.toxicities == sum(1 for p in infused if p.dose_limiting_toxicity)
    assert build_report(reversed(cohort), PROTOCOL_V1) == report  # the order of patients does not matter


# ---------------------------------------------------------------- the trial record's summaries


def summary_of(journey: JourneyDriver) -> PatientSummary:
    """What the record stores for the patient: the projection of its events, as the worker's activity builds it."""
    recorded = [to_row(e) for e in journey.events]
    return PatientSummary(
        study_id=journey.state.study_id,
        phase=journey.state.phase.value,
        updated_through_sequence=recorded[-1].sequence,
        rebuilt_at=datetime.now(UTC),
        summary=project_patient(journey.state.study_id, recorded),
    )


def test_a_stored_summary_reads_back_as_the_patients_status_at_their_last_event() -> None:
    journey = JourneyDriver("TF-050")
    journey.to_follow_up()
    stored = summary_of(journey)

    assert "as_of" in stored.summary  # the projection's own field: not part of the status
    assert status_from_summary(stored) == patient_status(journey.state, PROTOCOL_V1, journey.events[-1].occurred_at)


def one_year_cr(study_id: str) -> JourneyDriver:
    """Infused, a grade 1 fever on day 2, in CR at the one-year assessment (the visits between are missed)."""
    journey = JourneyDriver(study_id)
    journey.to_follow_up()
    journey.advance(days=2)
    journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings(max_temperature_c=38.4)))
    months = PROTOCOL_V1.response.primary_endpoint_months
    visit = next(i for i in scheduled_items(journey.state, journey.protocol) if i.code == f"M{months}")
    journey.move_to(visit.target_date, hour=10)
    journey.do(cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(journey.today)))
    return journey


def relapsed(study_id: str) -> JourneyDriver:
    journey = JourneyDriver(study_id)
    journey.to_follow_up()
    journey.advance(days=60)
    journey.run_timers_until(journey.now)
    journey.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(journey.today, marrow_blasts_percent=30.0)))
    return journey


def died_of_crs(study_id: str) -> JourneyDriver:
    journey = JourneyDriver(study_id)
    journey.to_follow_up()
    journey.advance(days=1)
    severe = crs_findings(max_temperature_c=39.4, hypotension=True, vasopressors_excluding_vasopressin=1)
    journey.do(cmd.AssessCrs(actor=PHYSICIAN, assessed_at=journey.now, findings=severe))
    journey.advance(days=1)
    journey.do(cmd.RecordDeath(actor=PHYSICIAN, died_on=journey.today, cause="CRS", treatment_related=True))
    return journey


def icans_grade_3(study_id: str) -> JourneyDriver:
    journey = JourneyDriver(study_id)
    journey.to_follow_up()
    journey.advance(days=3)
    journey.do(cmd.AssessIcans(actor=NURSE, assessed_at=journey.now, findings=icans_findings(capd_score=12)))
    return journey


def screen_failure(study_id: str) -> JourneyDriver:
    journey = JourneyDriver(study_id)
    journey.enroll(prior_car_t=True)
    return journey


def in_apheresis(study_id: str) -> JourneyDriver:
    journey = JourneyDriver(study_id)
    journey.to_apheresis()
    return journey


async def test_the_report_of_a_record_built_from_domain_events(tmp_path: Path) -> None:
    """Six patients' real events in a trial record: the report reads its projections and nothing else."""
    cohort = [
        one_year_cr("TF-061"),
        relapsed("TF-062"),
        died_of_crs("TF-063"),
        icans_grade_3("TF-064"),
        screen_failure("TF-065"),
        in_apheresis("TF-066"),
    ]
    endpoints: dict[str, Any] = {
        j.state.study_id: patient_status(j.state, PROTOCOL_V1, j.now).primary_endpoint for j in cohort
    }
    assert endpoints == {
        "TF-061": "cr",
        "TF-062": "not_cr",
        "TF-063": "not_cr",
        "TF-064": "pending",
        "TF-065": "not_evaluable",
        "TF-066": "pending",  # enrolled, on the way to infusion
    }
    with new_store(tmp_path) as record:
        record.append([to_row(e) for journey in cohort for e in journey.events])
        record.rebuild_projections(project_patient)
        # No Temporal at all: the report is the record's.
        trial = TrialClient(cast(Client, None), record)
        report = await trial.report()

    assert report.enrollment.patients == 6 and report.enrollment.screen_failures == 1
    assert {p: n for p, n in report.enrollment.by_phase.items() if n} == {
        Phase.FOLLOW_UP: 1,
        Phase.SURVIVAL_FOLLOW_UP: 1,
        Phase.OFF_STUDY: 2,
        Phase.TOXICITY_OBSERVATION: 1,
        Phase.APHERESIS: 1,
    }
    endpoint = report.primary_endpoint.per_protocol
    assert (endpoint.patients, endpoint.assessed, endpoint.complete_responses, endpoint.pending) == (4, 3, 1, 1)
    itt = report.primary_endpoint.intention_to_treat
    assert (itt.patients, itt.assessed, itt.complete_responses, itt.pending) == (5, 3, 1, 2)
    assert (endpoint.cr_rate.ci_low, endpoint.cr_rate.ci_high) == clopper_pearson_interval(1, 3, 0.95)
    assert report.toxicity.highest_crs_grade == {0: 2, 1: 1, 2: 0, 3: 1, 4: 0}
    assert report.toxicity.highest_icans_grade == {0: 3, 1: 0, 2: 0, 3: 1, 4: 0}
    assert report.toxicity.dose_limiting_toxicities == 2
    assert report.stopping_rule == evaluate_stopping_rule(2, 4, PROTOCOL_V1.stopping_rule)
