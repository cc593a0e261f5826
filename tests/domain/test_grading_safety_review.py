"""The clinical review's grading and safety findings (issue 16, findings 1-5), through the domain and the decider.

1. An awake patient of the ICE age who cannot perform the ICE scores 0: ICANS grade 3.
2. CRS oxygen is graded by its rate (<= the protocol's limit is low flow whatever the device), masks by the mask.
3. "Fever masked" follows from recorded tocilizumab or corticosteroid doses in the protocol's window, never a box.
4. The pre-infusion fever check is answered explicitly: a blank is refused.
5. An adverse event's 24-hour report runs from the site's awareness, not from the data entry.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.decide import decide
from domain.journey.evolve import fold
from domain.journey.views import patient_status
from domain.protocol import PROTOCOL_V1
from domain.site_time import site_moment
from domain.toxicity import (
    AdverseEvent,
    Consciousness,
    CrsFindings,
    FeverMaskingDose,
    FeverMaskingDrug,
    OxygenSupport,
    RecordedCrsFindings,
    expedited_report_reasons,
    fever_masking_dose,
    grade_crs,
    grade_icans,
)
from simulation import journey_steps as path
from simulation.journey_steps import PathPatient
from tests.domain.examples import crs_findings, icans_findings
from tests.domain.journey_driver import NURSE, PHYSICIAN, JourneyDriver

CRS = PROTOCOL_V1.crs
ICANS = PROTOCOL_V1.icans
SAFETY = PROTOCOL_V1.safety
O2 = OxygenSupport


# ================================================================ 1. ICANS: unable to perform the ICE


def test_an_awake_patient_of_twelve_unable_to_perform_the_ice_is_grade_3() -> None:
    findings = icans_findings(capd_score=None, unable_to_perform_assessment=True)
    grading = grade_icans(findings, 12, ICANS)
    assert grading.grade == 3
    assert grading.reasons == ("unable to perform the ICE (e.g. global aphasia): scored 0/10: grade 3",)
    assert expedited_report_reasons(icans_grade=grading.grade, safety=SAFETY) != ()


def test_unable_to_perform_the_ice_and_unarousable_is_grade_4() -> None:
    findings = icans_findings(
        capd_score=None, unable_to_perform_assessment=True, consciousness=Consciousness.UNAROUSABLE
    )
    assert grade_icans(findings, 15, ICANS).grade == 4


class TeenagerJourney(JourneyDriver):
    """A patient of 13 at enrollment: ICANS is scored by the ICE."""

    def __init__(self) -> None:
        super().__init__()
        self.patient = PathPatient(study_id=self.state.study_id, age_years=13)

    def enroll(self, **screening_overrides: Any) -> None:
        super().enroll(**{"date_of_birth": date(2012, 6, 1), **screening_overrides})


def test_the_journey_opens_a_report_and_counts_a_dlt_for_an_ice_not_performed() -> None:
    journey = TeenagerJourney()
    journey.to_follow_up()
    journey.advance(days=1)
    findings = icans_findings(capd_score=None, unable_to_perform_assessment=True)
    journey.do(cmd.AssessIcans(actor=NURSE, assessed_at=journey.now, findings=findings))
    assessed, opened = (e.payload for e in journey.events[-2:])
    assert isinstance(assessed, ev.IcansAssessed) and assessed.age_years == 13 and assessed.grade == 3
    assert isinstance(opened, ev.ExpeditedReportOpened)
    assert patient_status(journey.state, journey.protocol, journey.now).dose_limiting_toxicity


# ================================================================ 2. CRS oxygen by rate


@pytest.mark.parametrize(
    ("device", "flow", "grade", "words"),
    [
        (O2.HIGH_FLOW_NASAL_CANNULA, 4.0, 2, "low-flow oxygen 4.0 L/min by high-flow nasal cannula"),
        (O2.HIGH_FLOW_NASAL_CANNULA, 6.0, 2, "at most 6.0 L/min"),
        (O2.HIGH_FLOW_NASAL_CANNULA, 6.5, 3, "high-flow oxygen 6.5 L/min by high-flow nasal cannula"),
        (O2.NASAL_CANNULA, 8.0, 3, "above 6.0 L/min"),
        (O2.BLOW_BY, 5.0, 2, "low-flow oxygen 5.0 L/min by blow-by"),
        (O2.BLOW_BY, 8.0, 3, "high-flow oxygen 8.0 L/min by blow-by"),
        (O2.FACEMASK, 4.0, 3, "oxygen by facemask at 4.0 L/min: grade 3"),
        (O2.NON_REBREATHER, None, 3, "non-rebreather"),
        (O2.VENTURI_MASK, 10.0, 3, "Venturi"),
        (O2.CPAP, None, 4, "positive-pressure support (CPAP)"),
    ],
)
def test_crs_oxygen_is_graded_by_its_rate(device: OxygenSupport, flow: float | None, grade: int, words: str) -> None:
    grading = grade_crs(crs_findings(max_temperature_c=38.6, oxygen=device, oxygen_flow_l_per_min=flow), CRS)
    assert grading.grade == grade
    assert any(words in reason for reason in grading.reasons), grading.reasons


def test_the_low_flow_limit_comes_from_the_protocol() -> None:
    findings = crs_findings(max_temperature_c=38.6, oxygen=O2.HIGH_FLOW_NASAL_CANNULA, oxygen_flow_l_per_min=5.0)
    assert grade_crs(findings, CRS.model_copy(update={"low_flow_oxygen_max_l_per_min": 4.0})).grade == 3


@pytest.mark.parametrize("device", [O2.HIGH_FLOW_NASAL_CANNULA, O2.BLOW_BY])
def test_a_cannula_or_blow_by_without_its_rate_is_refused(device: OxygenSupport) -> None:
    with pytest.raises(ValidationError, match="needs its flow rate in L/min: the rate tells low flow"):
        crs_findings(max_temperature_c=38.6, oxygen=device, oxygen_flow_l_per_min=None)


def test_an_entry_recorded_before_the_rate_was_required_still_reads_and_grades_by_its_device() -> None:
    old = {
        "max_temperature_c": 38.6,
        "fever_masked_by_treatment": False,
        "hypotension": False,
        "vasopressors_excluding_vasopressin": 0,
        "vasopressin": False,
        "oxygen": "high_flow_nasal_cannula",
        "oxygen_flow_l_per_min": None,
    }
    recorded = RecordedCrsFindings.model_validate(old)
    assert grade_crs(recorded, CRS).grade == 3


# ================================================================ 3. fever masked by recorded doses

ASSESSED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def dose(hours_before: float, drug: FeverMaskingDrug = FeverMaskingDrug.TOCILIZUMAB, sequence: int = 40) -> Any:
    return FeverMaskingDose(
        drug=drug, dose_mg=8.0, given_at=ASSESSED - timedelta(hours=hours_before), sequence=sequence
    )


def test_a_dose_in_the_protocols_window_masks_the_fever_and_the_reasons_name_it() -> None:
    masking = fever_masking_dose([dose(30)], ASSESSED, CRS)
    assert masking == dose(30)
    grading = grade_crs(crs_findings(max_temperature_c=37.0, hypotension=True), CRS, masking)
    assert grading.grade == 2
    assert "fever masked by tocilizumab 8 mg given 2026-03-09T03:00:00+00:00 (entry 40)" in grading.reasons[0]
    assert "within 72 hours before the assessment" in grading.reasons[0]


def test_the_window_is_the_protocols_and_its_edges_are_exact() -> None:
    assert fever_masking_dose([dose(72)], ASSESSED, CRS) == dose(72)
    assert fever_masking_dose([dose(72.01)], ASSESSED, CRS) is None
    assert fever_masking_dose([dose(-1)], ASSESSED, CRS) is None  # given after the assessment
    assert fever_masking_dose([dose(30)], ASSESSED, CRS.model_copy(update={"fever_masking_window_hours": 24})) is None


def test_the_latest_dose_in_the_window_is_named() -> None:
    steroid = dose(5, FeverMaskingDrug.DEXAMETHASONE, sequence=41)
    assert fever_masking_dose([dose(30), steroid], ASSESSED, CRS) == steroid


def test_without_a_recorded_dose_hypotension_without_fever_is_not_crs() -> None:
    grading = grade_crs(crs_findings(max_temperature_c=37.0, hypotension=True), CRS)
    assert grading.grade == 0
    assert "no tocilizumab or corticosteroid recorded in the 72 hours before" in " | ".join(grading.reasons)


def test_the_masked_box_is_no_input_any_more() -> None:
    with pytest.raises(ValidationError, match="'fever masked' is no longer ticked by hand"):
        CrsFindings.model_validate({**crs_findings().model_dump(), "fever_masked_by_treatment": True})


def _crs(journey: JourneyDriver, **findings: Any) -> cmd.AssessCrs:
    return cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings(**findings))


def test_the_journey_masks_the_fever_from_a_recorded_dose_only() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=1)
    no_dose = journey.do(_crs(journey, max_temperature_c=37.1, hypotension=True))
    assert isinstance(no_dose[0].payload, ev.CrsAssessed) and no_dose[0].payload.grade == 0
    journey.advance(hours=1)
    given = journey.do(
        cmd.RecordFeverMaskingDose(
            actor=PHYSICIAN, drug=FeverMaskingDrug.TOCILIZUMAB, dose_mg=8, given_at=journey.now - timedelta(hours=1)
        )
    )
    assert given[0].type == "fever_masking_dose_given"
    journey.advance(hours=2)
    [assessed] = journey.do(_crs(journey, max_temperature_c=37.1, hypotension=True))
    assert isinstance(assessed.payload, ev.CrsAssessed)
    assert assessed.payload.grade == 2
    assert assessed.payload.fever_masked_by is not None
    assert assessed.payload.fever_masked_by.sequence == given[0].sequence
    assert f"(entry {given[0].sequence})" in assessed.payload.reasons[0]
    journey.advance(hours=72)
    [later] = journey.do(_crs(journey, max_temperature_c=37.2, hypotension=True))
    assert isinstance(later.payload, ev.CrsAssessed) and later.payload.grade == 0  # the window has passed
    worst = patient_status(journey.state, journey.protocol, journey.now).worst_crs
    assert worst is not None and (worst.sequence, worst.grade) == (assessed.sequence, 2)
    assert worst.reasons == assessed.payload.reasons  # staff see why, with the dose that masked the fever


def test_a_dose_before_the_infusion_is_refused_and_a_corrected_dose_no_longer_masks() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    infusion = journey.state.infusion
    assert infusion is not None
    journey.advance(days=4)
    steroid = FeverMaskingDrug.DEXAMETHASONE
    early = infusion.infused_at - timedelta(hours=1)
    reasons = journey.refused(cmd.RecordFeverMaskingDose(actor=NURSE, drug=steroid, dose_mg=5, given_at=early))
    assert reasons == (
        f"the time the dose was given {early.isoformat()} is before infusion ({infusion.infused_at.isoformat()})",
    )
    [given] = journey.do(cmd.RecordFeverMaskingDose(actor=NURSE, drug=steroid, dose_mg=5, given_at=journey.now))
    journey.do(
        cmd.RecordFeverMaskingDose(
            actor=PHYSICIAN,
            drug=steroid,
            dose_mg=5,
            given_at=infusion.infused_at + timedelta(hours=1),  # the day of the infusion: long before this check
            correction=cmd.Correction(supersedes_sequence=given.sequence, reason="dated on entry, not when given"),
        )
    )
    journey.advance(minutes=10)
    [assessed] = journey.do(_crs(journey, max_temperature_c=37.0, hypotension=True))
    assert isinstance(assessed.payload, ev.CrsAssessed) and assessed.payload.grade == 0


def test_a_typed_fever_masked_box_is_refused_with_what_to_do_instead() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=1)
    typed = cmd.AssessCrs.model_validate(
        {
            "actor": NURSE.model_dump(),
            "assessed_at": journey.now.isoformat(),
            "findings": {**crs_findings(max_temperature_c=37.0).model_dump(), "fever_masked_by_treatment": True},
        }
    )
    assert typed.typed_fever_masking
    # Written back when sent on (the API refuses the box itself; a command sent to the journey otherwise still
    # carries it to the journey's validator).
    assert cmd.AssessCrs.model_validate_json(typed.model_dump_json()).typed_fever_masking
    reasons = journey.refused(typed)
    assert reasons == (
        "'fever masked' is no longer ticked by hand: it follows from the tocilizumab or corticosteroid doses "
        "recorded in the 72 hours before the assessment; record the dose (drug, dose, time given), then the "
        "assessment without that box",
    )


def test_a_history_recorded_with_the_box_still_replays() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=1)
    typed = cmd.AssessCrs.model_validate_json(
        cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings(max_temperature_c=38.3))
        .model_dump_json()
        .replace('"hypotension"', '"fever_masked_by_treatment":false,"hypotension"')
    )
    assert typed.typed_fever_masking
    events = decide(journey.state, typed, journey.now, journey.protocol, clinical_review=False)
    assert isinstance(events[0].payload, ev.CrsAssessed) and events[0].payload.grade == 1
    # and the event an old entry left in the record reads back, its box kept
    old = events[0].payload.model_dump(mode="json")
    old["findings"]["fever_masked_by_treatment"] = True
    assert ev.CrsAssessed.model_validate(old).findings.fever_masked_by_treatment is True


# ================================================================ 4. the pre-infusion fever check


def test_a_blank_fever_check_holds_the_infusion_in_words_a_nurse_understands() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.move_to(journey.today + timedelta(days=2))
    journey.thaw()
    reasons = journey.refused(journey.infusion_command(no_fever=False, hours_since_last_fever=None))
    assert reasons == (
        "answer the fever check before the infusion: how many hours since the patient's last fever (at least 24 "
        "are required), or that the patient has had no fever; a blank is not an answer",
    )


def test_two_answers_to_the_fever_check_are_refused() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.move_to(journey.today + timedelta(days=2))
    journey.thaw()
    reasons = journey.refused(journey.infusion_command(no_fever=True, hours_since_last_fever=30))
    assert reasons == (
        "the fever check has two answers: 30 hours since the last fever, and no fever at all; keep the one that "
        "is true",
    )


@pytest.mark.parametrize("answer", [{"no_fever": True}, {"no_fever": False, "hours_since_last_fever": 24}])
def test_an_explicit_fever_free_answer_lets_the_infusion_go(answer: dict[str, Any]) -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.infuse(**answer)
    assert journey.state.infusion is not None


def test_an_infusion_recorded_blank_before_the_review_still_replays() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.move_to(journey.today + timedelta(days=2))
    journey.thaw()
    blank = path.signed(journey.infusion_command(no_fever=False, hours_since_last_fever=None), journey.now)
    events = decide(journey.state, blank, journey.now, journey.protocol, clinical_review=False)
    assert events[0].type == "cells_infused"


# ================================================================ 5. the report clock starts at awareness


def _sae(journey: JourneyDriver, **overrides: Any) -> cmd.RecordAdverseEvent:
    values: dict[str, Any] = {
        "term": "febrile neutropenia",
        "ctcae_grade": 3,
        "serious": True,
        "related_to_car_t": "possible",
        "onset_date": journey.today,
        **overrides,
    }
    return cmd.RecordAdverseEvent(actor=PHYSICIAN, adverse_event=AdverseEvent(**values))


def test_the_report_is_due_24_hours_after_the_site_became_aware() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=3)
    aware = journey.now - timedelta(hours=5)
    journey.do(_sae(journey, aware_at=aware))
    [report] = journey.state.open_expedited_reports
    assert report.due_at == aware + timedelta(hours=SAFETY.expedited_report_hours)
    opened = journey.events[-1].payload
    assert isinstance(opened, ev.ExpeditedReportOpened) and opened.aware_at == aware
    [shown] = patient_status(journey.state, journey.protocol, journey.now).open_expedited_reports
    assert (shown.aware_at, shown.due_at, shown.overdue) == (aware, report.due_at, False)


def test_a_late_entry_gets_no_fresh_24_hours_it_is_overdue_at_once_and_escalated() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=3)
    onset = journey.today - timedelta(days=2)
    journey.do(_sae(journey, onset_date=onset))  # no awareness recorded: the start of the onset day
    [report] = journey.state.open_expedited_reports
    aware = site_moment(onset, 0, journey.protocol.schedule)
    assert report.due_at == aware + timedelta(hours=24) < journey.now
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert status.open_expedited_reports[0].overdue
    fired = journey.run_timers_until(journey.now)  # daily toxicity monitoring's checks fire on the way too
    assert [e.type for e in fired if e.type.startswith("expedited_report")] == ["expedited_report_overdue"]


def test_awareness_before_the_onset_or_in_the_future_is_refused() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=3)
    before = site_moment(journey.today, 0, journey.protocol.schedule) - timedelta(minutes=1)
    assert any(
        "became aware of it" in r and "before the onset day's start" in r
        for r in journey.refused(_sae(journey, aware_at=before))
    )
    future = journey.now + timedelta(hours=2)
    assert any(
        "became aware of it" in r and "in the future" in r for r in journey.refused(_sae(journey, aware_at=future))
    )


def test_before_the_review_the_clock_ran_from_the_entry() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=3)
    command = path.signed(_sae(journey, onset_date=journey.today - timedelta(days=2)), journey.now)
    events = decide(journey.state, command, journey.now, journey.protocol, clinical_review=False)
    state = fold(journey.state, events)
    assert state.open_expedited_reports[0].due_at == journey.now + timedelta(hours=24)


def test_a_death_learnt_of_late_is_reported_from_the_sites_awareness() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=4)
    died_on = journey.today - timedelta(days=1)
    learnt = site_moment(died_on, 22, journey.protocol.schedule)
    journey.do(
        cmd.RecordDeath(actor=PHYSICIAN, died_on=died_on, cause="sepsis", treatment_related=False, aware_at=learnt)
    )
    [report] = journey.state.open_expedited_reports
    assert (report.aware_at, report.due_at) == (learnt, learnt + timedelta(hours=24))


def test_a_death_without_its_awareness_is_due_a_day_after_the_day_of_death_began() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=4)
    died_on = journey.today - timedelta(days=2)
    journey.do(cmd.RecordDeath(actor=PHYSICIAN, died_on=died_on, cause="sepsis", treatment_related=False))
    [report] = journey.state.open_expedited_reports
    assert report.due_at == site_moment(died_on, 0, journey.protocol.schedule) + timedelta(hours=24) < journey.now
    assert [e.type for e in journey.run_timers_until(journey.now)] == ["expedited_report_overdue"]


def test_the_same_dose_sent_twice_is_refused_as_a_resend() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=1)
    dose = cmd.RecordFeverMaskingDose(actor=NURSE, drug=FeverMaskingDrug.TOCILIZUMAB, dose_mg=8, given_at=journey.now)
    [given] = journey.do(dose)
    assert journey.refused(dose) == (
        f"this dose is already recorded (entry {given.sequence}): the same time and findings; to change that entry, "
        f"record a correction of entry {given.sequence}",
    )
