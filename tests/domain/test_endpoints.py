"""Each patient's share of the endpoints (protocol, "Response"): the one-year response for every enrolled patient
(intention to treat), the day-28 MRD evaluation, and the dates survival is measured by."""

from __future__ import annotations

from datetime import timedelta

from domain.journey import commands as cmd
from domain.journey.calendar import primary_endpoint_visit
from domain.journey.status_view import PatientStatus
from domain.journey.views import patient_status
from tests.domain.journey_driver import COORDINATOR, INVESTIGATOR, LAB, PHYSICIAN, JourneyDriver, marrow


def _status(journey: JourneyDriver) -> PatientStatus:
    return patient_status(journey.state, journey.protocol, journey.now)


def test_a_patient_who_leaves_before_infusion_is_a_failure_a_screen_failure_is_not_evaluable() -> None:
    left = JourneyDriver()
    left.to_apheresis()
    assert _status(left).primary_endpoint == "pending"  # enrolled, on the way to infusion
    left.do(cmd.WithdrawConsent(actor=INVESTIGATOR, withdrawn_on=left.today, reason="family moved away"))
    assert _status(left).primary_endpoint == "not_cr"
    assert _status(left).mrd_evaluation is None  # never infused

    screen_failure = JourneyDriver()
    screen_failure.enroll(risk_group="high")
    assert _status(screen_failure).primary_endpoint == "not_evaluable"


def test_a_one_year_marrow_after_its_window_is_evaluable_and_a_deviation() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    visit = primary_endpoint_visit(journey.state, journey.protocol)
    assert visit is not None
    journey.move_to(visit.window_closes + timedelta(days=1))
    assert _status(journey).primary_endpoint == "not_cr"  # no assessment by the window's end, so far
    late = cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(journey.today))
    assert any("one-year response assessment" in r for r in journey.refused(late, sign=False))
    journey.do(late)
    status = _status(journey)
    assert status.primary_endpoint == "cr"
    [deviation] = [d for d in status.deviations if "one-year" in d]
    assert f"on {journey.today.isoformat()}, outside its window" in deviation
    assert "evaluable" in deviation


def test_a_one_year_marrow_in_its_window_is_no_deviation() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    visit = primary_endpoint_visit(journey.state, journey.protocol)
    assert visit is not None
    journey.move_to(visit.target_date)
    journey.do(cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(journey.today, marrow_blasts_percent=6.0)))
    status = _status(journey)
    assert status.primary_endpoint == "not_cr"
    assert not [d for d in status.deviations if "one-year" in d]


def test_day_28_mrd_evaluation_and_survival_dates() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    infusion = journey.state.infusion
    assert infusion is not None
    assert _status(journey).mrd_evaluation == "pending"
    assert _status(journey).last_contact_on == infusion.day_zero
    journey.move_to(infusion.day_zero + timedelta(days=28))
    journey.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(journey.today, mrd_flow_percent=0.005)))
    assert _status(journey).mrd_evaluation == "negative"
    journey.move_to(infusion.day_zero + timedelta(days=60))
    journey.do(cmd.RecordVisit(actor=COORDINATOR, visit_code="M2", visit_date=journey.today))
    assert _status(journey).last_contact_on == journey.today
    journey.advance(days=10)
    journey.do(cmd.RecordDeath(actor=PHYSICIAN, died_on=journey.today, cause="infection", treatment_related=False))
    status = _status(journey)
    assert status.died_on == journey.today
    assert status.last_contact_on == journey.today


def test_a_positive_or_missed_day_28_evaluation() -> None:
    positive = JourneyDriver()
    positive.to_follow_up()
    infusion = positive.state.infusion
    assert infusion is not None
    positive.move_to(infusion.day_zero + timedelta(days=28))
    positive.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(positive.today, mrd_flow_percent=0.02)))
    assert _status(positive).mrd_evaluation == "positive"

    missed = JourneyDriver()
    missed.to_follow_up()
    missed.move_to(infusion.day_zero + timedelta(days=90))
    assert _status(missed).mrd_evaluation == "not_done"
