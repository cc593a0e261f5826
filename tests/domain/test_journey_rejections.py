"""Wrong, out-of-order or dangerous commands are refused with every reason, and nothing changes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.chain_of_identity import issue_chain_of_identity
from domain.journey import commands as cmd
from domain.journey.phases import Phase
from domain.roles import Role
from tests.domain.journey_driver import (
    APHERESIS,
    COORDINATOR,
    INVESTIGATOR,
    NURSE,
    PHARMACY,
    PHYSICIAN,
    SUPERVISOR,
    JourneyDriver,
    actor,
    screening,
)


def test_a_nurse_cannot_record_an_infusion() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.move_to(journey.today + timedelta(days=2))
    reasons = journey.refused(journey.infusion_command(actor=NURSE))
    assert reasons == ("a nurse cannot record infusion; this must be done by a physician or an investigator",)


def test_a_supervisor_reads_but_never_records() -> None:
    journey = JourneyDriver()
    journey.enroll()
    reasons = journey.refused(cmd.ConfirmEligibility(actor=SUPERVISOR))
    assert reasons[0].startswith("supervisors can read the record but not confirm eligibility")


def test_staff_cannot_issue_the_timers_commands() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    reasons = journey.refused(cmd.MarkVisitMissed(actor=COORDINATOR, visit_code="D7"))
    assert any("the system's own timers" in r for r in reasons)


def test_every_reason_is_named_not_just_the_first() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    # Wrong role and wrong phase: both are named.
    reasons = journey.refused(
        cmd.RecordConsent(
            actor=NURSE,
            guardian_consent_signed_on=journey.today + timedelta(days=3),
            consent_form_version="v2",
            child_assent_obtained=True,
        )
    )
    assert len(reasons) == 2
    assert "a nurse cannot record consent" in reasons[0]
    assert "cannot record consent: TF-001 is awaiting apheresis" in reasons[1]


def test_a_step_out_of_order_is_refused() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    reasons = journey.refused(
        cmd.RecordProductRelease(
            actor=actor(Role.CELL_LAB),
            product_label_coi="COI-TF001-C01-X",
            lot_number="L1",
            total_viable_car_cells=1e8,
            released_on=journey.today,
        )
    )
    assert reasons == ("cannot record a product release: TF-001 is awaiting apheresis",)


def test_nothing_but_enrollment_before_enrollment() -> None:
    journey = JourneyDriver()
    assert journey.refused(cmd.ConfirmEligibility(actor=INVESTIGATOR)) == ("TF-001 is not enrolled yet",)


def test_the_same_patient_cannot_be_enrolled_twice() -> None:
    journey = JourneyDriver()
    journey.enroll()
    reasons = journey.refused(cmd.EnrollPatient(actor=COORDINATOR, study_id="TF-001", screening=screening()))
    assert reasons == ("TF-001 is already enrolled",)


def test_a_journey_only_takes_its_own_study_id() -> None:
    journey = JourneyDriver()
    reasons = journey.refused(cmd.EnrollPatient(actor=COORDINATOR, study_id="TF-002", screening=screening()))
    assert reasons == ("this journey belongs to TF-001, not to TF-002",)


def test_consent_needs_the_childs_assent_from_age_eight() -> None:
    journey = JourneyDriver()
    journey.to_consent()
    reasons = journey.refused(
        cmd.RecordConsent(
            actor=INVESTIGATOR,
            guardian_consent_signed_on=journey.today,
            consent_form_version="ICF v2.1",
            child_assent_obtained=None,
        )
    )
    assert reasons == (
        "the child is 9 years old: the child's own assent is required from age 8; record the assent, "
        "or record consent withdrawn if the child declines",
    )


def test_consent_of_a_younger_child_needs_no_assent() -> None:
    journey = JourneyDriver()
    journey.enroll(date_of_birth=screening().screening_date.replace(year=2019))
    journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))
    journey.do(
        cmd.RecordConsent(actor=INVESTIGATOR, guardian_consent_signed_on=journey.today, consent_form_version="ICF v2.1")
    )
    assert journey.state.phase is Phase.APHERESIS


def test_clinical_dates_in_the_future_are_refused() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    reasons = journey.refused(cmd.RecordApheresis(actor=APHERESIS, collected_on=journey.today + timedelta(days=1)))
    assert len(reasons) == 1 and "is in the future" in reasons[0]


def test_a_product_labelled_for_another_patient_is_refused_at_release() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    journey.collect()
    other = str(issue_chain_of_identity("TF-002", 1))
    reasons = journey.refused(
        cmd.RecordProductRelease(
            actor=actor(Role.CELL_LAB),
            product_label_coi=other,
            lot_number="L1",
            total_viable_car_cells=1e8,
            released_on=journey.today,
        )
    )
    assert len(reasons) == 1
    assert reasons[0].startswith("the product label does not match this patient's cells")


def test_a_suggested_renal_adjustment_must_be_confirmed_or_declined() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    reasons = journey.refused(
        cmd.PrescribeLymphodepletion(
            actor=PHYSICIAN,
            height_cm=120,
            weight_kg=22,
            creatinine_clearance_ml_min_173m2=55,
            planned_start_on=journey.today + timedelta(days=1),
        )
    )
    assert len(reasons) == 1
    assert "fludarabine 20.5 mg a day instead of 25.7 mg" in reasons[0]
    assert "the physician must accept or decline this adjustment" in reasons[0]


@pytest.mark.parametrize(("decision", "fludarabine_mg"), [("accept", 20.5), ("decline", 25.7)])
def test_the_physicians_renal_decision_sets_the_fludarabine_dose(decision: str, fludarabine_mg: float) -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.prescribe(creatinine_clearance_ml_min_173m2=55, renal_adjustment=decision)
    plan = journey.state.lymphodepletion
    assert plan is not None
    assert plan.daily_dose_mg["fludarabine"] == fludarabine_mg
    assert plan.renal_adjustment == decision


def test_a_renal_decision_without_a_suggestion_is_refused() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    with pytest.raises(Exception, match="no renal adjustment is suggested"):
        journey.prescribe(renal_adjustment="accept")


def test_a_dose_ten_times_the_prescription_is_refused_unless_explained() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.prescribe()
    journey.move_to(journey.today + timedelta(days=1), hour=10)
    typo = cmd.RecordLymphodepletionDose(
        actor=PHARMACY, drug="fludarabine", day_number=1, dose_mg=257, given_at=journey.now
    )
    reasons = journey.refused(typo)
    assert reasons == (
        "fludarabine day 1: 257 mg differs from the prescribed 25.7 mg by 900% (more than 10%); "
        "check the dose, or give the reason for the deviation",
    )


def test_doses_are_recorded_in_order_once_a_day() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.prescribe()
    journey.move_to(journey.today + timedelta(days=1), hour=10)
    reasons = journey.refused(
        cmd.RecordLymphodepletionDose(
            actor=PHARMACY, drug="cyclophosphamide", day_number=3, dose_mg=428, given_at=journey.now
        )
    )
    assert "cyclophosphamide is given on 2 days only; there is no day 3" in reasons
    assert "cyclophosphamide day 2 has not been recorded yet: record the days in order" in reasons


def test_infusion_of_another_patients_bag_is_refused() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.move_to(journey.today + timedelta(days=2))
    wrong_bag = str(issue_chain_of_identity("TF-002", 1))
    reasons = journey.refused(journey.infusion_command(product_label_coi=wrong_bag))
    assert len(reasons) == 1
    assert reasons[0].startswith("STOP: the bag does not match this patient")
    assert "TF-002" in reasons[0]


def test_a_mistyped_bag_label_is_caught_by_its_check_character() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.move_to(journey.today + timedelta(days=2))
    label = journey.state.chain_of_identity
    assert label is not None
    typo = label.replace("TF001", "TF007")
    reasons = journey.refused(journey.infusion_command(product_label_coi=typo))
    assert len(reasons) == 1 and reasons[0].startswith("STOP: the bag does not match this patient")


def test_every_hold_criterion_is_named() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.move_to(journey.today + timedelta(days=2))
    reasons = journey.refused(
        journey.infusion_command(
            active_uncontrolled_infection=True,
            hours_since_last_fever=12,
            no_fever=False,
            uncontrolled_crs_from_prior_therapy=True,
            tocilizumab_doses_on_site=1,
        )
    )
    assert reasons == (
        "hold the infusion: there is an active uncontrolled infection",
        "hold the infusion: fever-free for 12 hours only; at least 24 hours are required",
        "hold the infusion: uncontrolled CRS from earlier therapy",
        "hold the infusion: 1 tocilizumab doses on site; at least 2 are required",
    )


def test_more_than_the_allowed_maximum_is_never_infused() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.move_to(journey.today + timedelta(days=2))
    reasons = journey.refused(journey.infusion_command(cells_infused=9.0e7))
    assert reasons == (
        "9.00e+07 cells is above the allowed maximum of 8.80e+07 cells for 22 kg: infuse at most the maximum",
    )


def test_infusion_before_two_days_needs_the_investigator() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.move_to(journey.today + timedelta(days=1))
    reasons = journey.refused(journey.infusion_command())
    assert reasons == (
        "infusion 1 days after the last lymphodepletion dose is outside the 2-14 day window: "
        "the investigator must approve it first",
    )
    journey.do(cmd.ApproveInfusionOutsideWindow(actor=INVESTIGATOR, reason="bed available; clinically stable"))
    journey.do(journey.infusion_command())
    infusion = journey.state.infusion
    assert infusion is not None
    assert infusion.deviations == (
        "infusion 1 days after the last lymphodepletion dose is outside the 2-14 day window "
        "(approved by the investigator)",
    )


def test_an_invalid_value_is_refused_by_the_command_model_itself() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        cmd.RecordProductRelease(
            actor=actor(Role.CELL_LAB),
            product_label_coi="x",
            lot_number="L1",
            total_viable_car_cells=-5,
            released_on=screening().screening_date,
        )
    with pytest.raises(ValueError, match="finite number"):
        cmd.PrescribeLymphodepletion(
            actor=PHYSICIAN,
            height_cm=float("nan"),
            weight_kg=22,
            creatinine_clearance_ml_min_173m2=100,
            planned_start_on=screening().screening_date,
        )


def test_a_screen_failure_is_screened_again_under_its_study_id_as_a_new_attempt() -> None:
    journey = JourneyDriver()
    journey.enroll(prior_car_t=True)
    assert journey.state.phase is Phase.OFF_STUDY and journey.state.screening_attempt == 1
    failed_through = journey.state.last_sequence
    earlier = screening(screening_date=journey.today - timedelta(days=1))
    assert journey.refused(cmd.EnrollPatient(actor=COORDINATOR, study_id="TF-001", screening=earlier)) == (
        f"the screening date {earlier.screening_date.isoformat()} is before the failed screening "
        f"({journey.today.isoformat()})",
    )
    journey.advance(days=3)
    again = cmd.EnrollPatient(actor=COORDINATOR, study_id="TF-001", screening=screening(screening_date=journey.today))
    events = journey.do(again)
    assert [e.sequence for e in events] == [failed_through + 1, failed_through + 2]  # the same record chain
    assert events[0].payload.attempt == 2  # type: ignore[union-attr]
    assert journey.state.phase is Phase.SCREENING and journey.state.exit is None
    assert journey.state.eligibility is not None and journey.state.eligibility.eligible
    assert journey.state.screening_attempt == 2 and journey.state.screening_date == journey.today
    # Eligible now: the path goes on as for any patient; an enrolled patient is never screened again.
    journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))
    assert journey.state.phase is Phase.CONSENT
    assert journey.refused(again) == ("TF-001 is already enrolled",)
