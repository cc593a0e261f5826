"""The whole path of one patient through the decider: screening to fifteen years, with the timers firing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.journey import commands as cmd
from domain.journey.calendar import CHEMO_CODE, MRD_CODE, scheduled_items
from domain.journey.phases import Phase
from domain.journey.views import patient_status
from domain.response import ResponseCategory
from domain.schedule import VisitStatus
from tests.domain.journey_driver import (
    COORDINATOR,
    LAB,
    NURSE,
    PHYSICIAN,
    JourneyDriver,
    crs_findings,
    icans_findings,
    marrow,
)


def test_enrollment_of_an_eligible_child_awaits_the_investigator() -> None:
    journey = JourneyDriver()
    journey.enroll()
    assert journey.types() == ["patient_enrolled", "eligibility_assessed"]
    assert journey.state.phase is Phase.SCREENING
    assert [e.sequence for e in journey.events] == [1, 2]
    assert all(e.actor == COORDINATOR and e.protocol_version == "1.0" for e in journey.events)


def test_lymphodepletion_follows_the_worked_dosing_example() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.prescribe()
    plan = journey.state.lymphodepletion
    assert plan is not None
    assert round(plan.bsa_m2, 3) == 0.856
    assert plan.daily_dose_mg == {"fludarabine": 25.7, "cyclophosphamide": 428.0}
    assert plan.days == {"fludarabine": 4, "cyclophosphamide": 2}
    journey.give_lymphodepletion()
    completed = journey.state.lymphodepletion_completed
    assert completed is not None
    assert journey.state.phase is Phase.INFUSION
    assert completed.infusion_window_opens == completed.last_dose_on + timedelta(days=2)
    assert completed.infusion_window_closes == completed.last_dose_on + timedelta(days=14)


def test_infusion_starts_toxicity_observation_with_the_dose_per_kg() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    infusion = journey.state.infusion
    assert infusion is not None
    assert infusion.cells_per_kg == 3e6
    assert infusion.deviations == ()
    assert journey.state.era is Phase.TOXICITY_OBSERVATION


def test_the_complete_fifteen_year_journey() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    infusion = journey.state.infusion
    assert infusion is not None
    day_zero = infusion.day_zero

    # Daily CRS and ICANS to day 6: a grade 1 fever on day 2.
    for day in range(1, 7):
        journey.move_to(day_zero + timedelta(days=day), hour=8)
        temperature = 38.4 if day == 2 else 36.9
        journey.do(
            cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings(max_temperature_c=temperature))
        )
        journey.do(cmd.AssessIcans(actor=NURSE, assessed_at=journey.now, findings=icans_findings()))
    assert journey.state.highest_crs_grade == 1
    assert journey.state.highest_icans_grade == 0

    items = scheduled_items(journey.state, journey.protocol)
    for item in items:
        journey.move_to(max(item.target_date, journey.today), hour=10)
        if item.code == MRD_CODE:
            journey.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(journey.today)))
        elif item.code == CHEMO_CODE:
            journey.do(
                cmd.RecordChemotherapyResumed(actor=PHYSICIAN, resumed_on=journey.today, from_protocol_step=True)
            )
        else:
            journey.do(cmd.RecordVisit(actor=COORDINATOR, visit_code=item.code, visit_date=journey.today))
            if item.code == "M12":
                journey.do(cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(journey.today)))

    last_window = max(i.window_closes for i in items)
    journey.run_timers_until(journey.at_site(last_window + timedelta(days=2)))

    state = journey.state
    assert state.phase is Phase.COMPLETED
    assert state.completed_on == last_window + timedelta(days=1)
    status = patient_status(state, journey.protocol, journey.now)
    assert {v.status for v in status.visits} == {VisitStatus.DONE_IN_WINDOW}
    assert len(status.visits) == 30  # 28 follow-up visits, the MRD evaluation, chemotherapy resumption
    assert status.primary_endpoint == "cr"
    assert status.overdue is False
    assert status.due == ()
    assert state.disease_assessments[0].category is ResponseCategory.CR

    types = journey.types()
    eras = [e.payload.era for e in journey.events if e.type == "follow_up_era_started"]  # type: ignore[union-attr]
    assert eras == [Phase.EARLY_FOLLOW_UP, Phase.FOLLOW_UP, Phase.LONG_TERM_FOLLOW_UP]
    milestones = [
        "patient_enrolled",
        "eligibility_confirmed",
        "consent_signed",
        "apheresis_collected",
        "product_released",
        "lymphodepletion_prescribed",
        "lymphodepletion_completed",
        "cells_infused",
        "journey_completed",
    ]
    positions = [types.index(m) for m in milestones]
    assert positions == sorted(positions)
    assert types[-1] == "journey_completed"
    # Every visit is reminded before its window opens; none was missed.
    assert types.count("visit_reminder_issued") >= len(items)
    assert "visit_missed" not in types
    assert [e.sequence for e in journey.events] == list(range(1, len(journey.events) + 1))
    assert len(journey.events) < 250


def test_a_visit_not_done_is_reminded_then_missed_then_can_still_be_recorded_late() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    d7 = next(i for i in scheduled_items(journey.state, journey.protocol) if i.code == "D7")

    fired = journey.run_timers_until(journey.at_site(d7.window_closes + timedelta(days=1), hour=12))
    d7_events = [e for e in fired if getattr(e.payload, "visit_code", None) == "D7"]
    assert [e.type for e in d7_events] == ["visit_reminder_issued", "visit_reminder_issued", "visit_missed"]
    assert all(e.actor.role.value == "system" for e in d7_events)
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert next(v for v in status.visits if v.code == "D7").status is VisitStatus.MISSED

    journey.do(cmd.RecordVisit(actor=COORDINATOR, visit_code="d7", visit_date=journey.today))
    late = journey.events[-1].payload
    assert late.type == "visit_completed" and late.in_window is False  # a deviation, recorded not refused
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert next(v for v in status.visits if v.code == "D7").status is VisitStatus.DONE_OUT_OF_WINDOW


@pytest.mark.parametrize("done_in_window", [True, False])
def test_an_mrd_marrow_entered_after_its_item_was_marked_missed_counts_by_its_date(done_in_window: bool) -> None:
    """Found entering a whole journey late: visits entered after the timer marked them missed counted, the day-28
    marrow did not, though it was done in its window. The marrow's date decides, as a visit's does: in the window,
    or after it (the MRD evaluation done late)."""
    journey = JourneyDriver()
    journey.to_follow_up()
    mrd = next(i for i in scheduled_items(journey.state, journey.protocol) if i.code == MRD_CODE)
    journey.run_timers_until(journey.at_site(mrd.window_closes + timedelta(days=2), hour=12))
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert next(v for v in status.visits if v.code == MRD_CODE).status is VisitStatus.MISSED

    done_on = mrd.target_date if done_in_window else journey.today
    journey.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(done_on)))
    assessed = journey.events[-1].payload
    assert assessed.fulfils == (MRD_CODE,) and assessed.in_window is done_in_window
    status = patient_status(journey.state, journey.protocol, journey.now)
    expected = VisitStatus.DONE_IN_WINDOW if done_in_window else VisitStatus.DONE_OUT_OF_WINDOW
    assert next(v for v in status.visits if v.code == MRD_CODE).status is expected


def test_status_of_a_patient_in_treatment_shows_the_next_step_and_who_does_it() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.prescribe()
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert status.phase is Phase.LYMPHODEPLETION
    assert status.next_due is not None
    assert status.next_due.code == "LD-FLU-1"
    assert status.next_due.what == "give fludarabine day 1: 25.7 mg"
    assert status.chain_of_identity == journey.state.chain_of_identity
    assert "date_of_birth" not in status.model_dump()


def test_the_last_day_of_lymphodepletion_dose_date_drives_the_infusion_window() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    completed = journey.state.lymphodepletion_completed
    plan = journey.state.lymphodepletion
    assert completed is not None and plan is not None
    assert completed.last_dose_on == plan.planned_start_on + timedelta(days=3)
    assert isinstance(completed.last_dose_on, date)
