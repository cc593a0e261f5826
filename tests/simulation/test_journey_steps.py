"""The shared path: the decider accepts every step at its moment, each milestone lands in its phase, and a path
entered late is dated before its infusion."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.journey.phases import Phase
from domain.protocol import PROTOCOL_V1
from domain.site_time import site_date, site_moment
from simulation.journey_steps import (
    STAFF_HOUR,
    DecidedJourney,
    Milestone,
    PathPatient,
    earlier_today,
    enrollment,
    entered_late,
    path_to,
    staff_day,
)

START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 09:00 at the site
RULES = PROTOCOL_V1.schedule
PHASE_AT: dict[Milestone, Phase] = {
    Milestone.ELIGIBILITY_CONFIRMED: Phase.CONSENT,
    Milestone.CONSENTED: Phase.APHERESIS,
    Milestone.COLLECTED: Phase.MANUFACTURING,
    Milestone.RELEASED: Phase.LYMPHODEPLETION,
    Milestone.PRESCRIBED: Phase.LYMPHODEPLETION,
    Milestone.LYMPHODEPLETED: Phase.INFUSION,
    Milestone.INFUSED: Phase.TOXICITY_OBSERVATION,
}


def enrolled(patient: PathPatient, at: datetime) -> DecidedJourney:
    journey = DecidedJourney(patient.study_id, at, PROTOCOL_V1)
    journey.do(enrollment(patient, site_date(at, RULES), PROTOCOL_V1))
    return journey


@pytest.mark.parametrize("milestone", list(Milestone))
def test_each_milestone_is_reached_at_its_moment(milestone: Milestone) -> None:
    patient = PathPatient(study_id="TF-001")
    journey = enrolled(patient, START)
    steps = path_to(milestone, patient, START, PROTOCOL_V1)
    assert steps[-1].reaches is milestone
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    journey.walk(steps)
    assert journey.state.phase is PHASE_AT[milestone]


def test_a_child_with_reduced_renal_function_gets_the_accepted_reduction() -> None:
    patient = PathPatient(study_id="TF-002", creatinine_clearance_ml_min_173m2=55)
    journey = enrolled(patient, START)
    journey.walk(path_to(Milestone.INFUSED, patient, START, PROTOCOL_V1))
    assert journey.state.phase is Phase.TOXICITY_OBSERVATION
    plan = journey.state.lymphodepletion
    assert plan is not None and plan.renal_adjustment == "accept"


def test_a_path_entered_late_is_dated_before_its_infusion_and_accepted_now() -> None:
    now = datetime.now(UTC)
    infused_at = now - timedelta(hours=1)
    patient = PathPatient(study_id="TF-003")
    steps = entered_late(Milestone.INFUSED, patient, site_date(infused_at, RULES), PROTOCOL_V1, infused_at=infused_at)
    assert all(step.at <= infused_at for step in steps) and steps[-1].at == infused_at
    journey = DecidedJourney(patient.study_id, now, PROTOCOL_V1)
    journey.do(enrollment(patient, site_date(steps[0].at, RULES), PROTOCOL_V1))
    assert len(journey.walk(steps, entered_late=True)) == len(steps) == 19  # 12 steps and 7 hand-offs of the cells
    assert journey.state.infusion is not None and journey.state.infusion.day_zero == site_date(infused_at, RULES)


@pytest.mark.parametrize(
    ("now", "expected_day"),
    [
        (datetime(2026, 1, 5, 0, 59, tzinfo=UTC), date(2026, 1, 4)),  # 08:59 at the site: its 09:00 still ahead
        (datetime(2026, 1, 5, 1, 0, tzinfo=UTC), date(2026, 1, 5)),  # 09:00 at the site
        (datetime(2026, 1, 5, 16, 30, tzinfo=UTC), date(2026, 1, 5)),  # 00:30 on the 6th at the site
    ],
)
def test_the_staff_day_is_the_latest_whose_staff_hour_has_come(now: datetime, expected_day: date) -> None:
    day = staff_day(now, PROTOCOL_V1)
    assert day == expected_day and site_moment(day, STAFF_HOUR, RULES) <= now


def test_earlier_today_stops_at_the_sites_midnight() -> None:
    half_past_midnight = datetime(2026, 1, 5, 16, 30, tzinfo=UTC)  # 00:30 on the 6th at the site
    assert earlier_today(half_past_midnight, timedelta(hours=1), PROTOCOL_V1) == datetime(2026, 1, 5, 16, tzinfo=UTC)
    assert earlier_today(START, timedelta(hours=1), PROTOCOL_V1) == START - timedelta(hours=1)
