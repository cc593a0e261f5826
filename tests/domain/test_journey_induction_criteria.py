"""Finding 9 through the journey: a screening names a diagnosis not confirmed and no remission after induction,
refuses a screening that leaves them blank, and replays screenings decided before they were criteria."""

from __future__ import annotations

from domain.journey import commands as cmd
from domain.journey import decide
from domain.journey.phases import Phase
from tests.domain.journey_driver import COORDINATOR, START, JourneyDriver, screening


def test_no_remission_after_induction_is_a_screen_failure_naming_it() -> None:
    journey = JourneyDriver("TF-1601")
    journey.enroll(b_all_diagnosis_confirmed=False, end_of_induction_marrow_blasts_percent=8.0)
    assert journey.types() == ["patient_enrolled", "eligibility_assessed", "screen_failed"]
    failed = journey.events[-1].payload.failed  # type: ignore[union-attr]
    assert [f.code for f in failed] == ["b_all_diagnosis", "morphologic_cr"]
    assert journey.state.phase is Phase.OFF_STUDY


def test_a_screening_without_the_induction_values_is_refused_naming_both() -> None:
    journey = JourneyDriver("TF-1602")
    blank = screening(b_all_diagnosis_confirmed=None, end_of_induction_marrow_blasts_percent=None)
    reasons = journey.refused(cmd.EnrollPatient(actor=COORDINATOR, study_id="TF-1602", screening=blank), sign=False)
    assert reasons == (
        "screening.b_all_diagnosis_confirmed is required",
        "screening.end_of_induction_marrow_blasts_percent is required",
    )


def test_a_screening_decided_before_the_criteria_replays_as_it_ran() -> None:
    journey = JourneyDriver("TF-1603")
    blank = screening(b_all_diagnosis_confirmed=None, end_of_induction_marrow_blasts_percent=None)
    enroll = cmd.EnrollPatient(actor=COORDINATOR, study_id="TF-1603", screening=blank)
    events = decide(journey.state, enroll, START, journey.protocol, induction_criteria=False)
    assert [e.type for e in events] == ["patient_enrolled", "eligibility_assessed"]


def test_a_corrected_screening_needs_the_induction_values_too() -> None:
    journey = JourneyDriver("TF-1604")
    journey.enroll()
    enrolled = journey.events[0].sequence
    blank = screening(b_all_diagnosis_confirmed=None, end_of_induction_marrow_blasts_percent=None)
    fix = cmd.Correction(supersedes_sequence=enrolled, reason="typed in the wrong field")
    correction = cmd.CorrectScreening(actor=COORDINATOR, screening=blank, correction=fix)
    reasons = journey.refused(correction)
    assert "screening.b_all_diagnosis_confirmed is required" in reasons
    assert "screening.end_of_induction_marrow_blasts_percent is required" in reasons
