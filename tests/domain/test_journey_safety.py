"""Toxicity on the journey: grades computed, 24 h reports opened, confirmed or escalated, corrections superseding."""

from __future__ import annotations

from datetime import timedelta

from domain.journey import commands as cmd
from domain.journey.phases import Phase
from domain.journey.views import patient_status
from domain.toxicity import AdverseEvent, Consciousness, OxygenSupport
from tests.domain.journey_driver import (
    INVESTIGATOR,
    NURSE,
    PHYSICIAN,
    JourneyDriver,
    crs_findings,
    icans_findings,
)


def _grade3_crs(journey: JourneyDriver) -> None:
    journey.do(
        cmd.AssessCrs(
            actor=NURSE,
            assessed_at=journey.now,
            findings=crs_findings(max_temperature_c=39.2, hypotension=True, vasopressors_excluding_vasopressin=1),
        )
    )


def test_grade_3_crs_opens_a_24_hour_report_confirmed_in_time() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=2)
    _grade3_crs(journey)
    assert journey.types()[-2:] == ["crs_assessed", "expedited_report_opened"]
    assert journey.state.highest_crs_grade == 3
    [report] = journey.state.open_expedited_reports
    assert report.due_at == journey.now + timedelta(hours=24)
    assert report.trigger_sequence == journey.events[-2].sequence

    journey.advance(hours=5)
    journey.do(
        cmd.ConfirmExpeditedReport(
            actor=INVESTIGATOR,
            report_id=report.report_id,
            submitted_at=journey.now,
            sponsor_reference="SP-0007",
        )
    )
    submitted = journey.events[-1].payload
    assert submitted.type == "expedited_report_submitted" and submitted.on_time is True
    assert journey.state.open_expedited_reports == ()
    journey.run_timers_until(journey.now + timedelta(days=2))
    assert "expedited_report_overdue" not in journey.types()


def test_an_unconfirmed_report_is_escalated_when_its_deadline_passes() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=2)
    _grade3_crs(journey)
    [report] = journey.state.open_expedited_reports
    fired = journey.run_timers_until(report.due_at + timedelta(hours=1))
    assert [e.type for e in fired if e.type.startswith("expedited")] == ["expedited_report_overdue"]
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert status.overdue and status.open_expedited_reports[0].overdue
    journey.do(
        cmd.ConfirmExpeditedReport(
            actor=INVESTIGATOR, report_id=report.report_id, submitted_at=journey.now, sponsor_reference="SP-8"
        )
    )
    assert journey.events[-1].payload.on_time is False  # type: ignore[union-attr]


def test_grade_4_icans_in_a_child_under_twelve_uses_capd_and_opens_a_report() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=4)
    journey.do(
        cmd.AssessIcans(
            actor=PHYSICIAN,
            assessed_at=journey.now,
            findings=icans_findings(capd_score=12, consciousness=Consciousness.UNAROUSABLE),
        )
    )
    assert journey.state.highest_icans_grade == 4
    assert journey.types()[-1] == "expedited_report_opened"
    assert patient_status(journey.state, journey.protocol, journey.now).dose_limiting_toxicity


def test_an_ice_score_for_a_nine_year_old_is_refused() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=1)
    reasons = journey.refused(
        cmd.AssessIcans(actor=NURSE, assessed_at=journey.now, findings=icans_findings(ice_score=8, capd_score=None))
    )
    assert len(reasons) >= 1 and "CAPD" in " ".join(reasons)


def test_crs_before_infusion_is_not_graded_on_the_journey() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    reasons = journey.refused(cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings()))
    assert reasons == ("cannot assess CRS: TF-001 is awaiting infusion",)


def test_a_correction_supersedes_without_erasing_and_needs_a_reason() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=1)
    journey.do(
        cmd.AssessCrs(
            actor=NURSE,
            assessed_at=journey.now,
            findings=crs_findings(max_temperature_c=38.5, oxygen=OxygenSupport.NASAL_CANNULA, oxygen_flow_l_per_min=2),
        )
    )
    wrong = journey.events[-1].sequence
    assert journey.state.highest_crs_grade == 2
    journey.advance(hours=1)
    journey.do(
        cmd.AssessCrs(
            actor=PHYSICIAN,
            assessed_at=journey.now - timedelta(hours=1),
            findings=crs_findings(max_temperature_c=38.5),
            correction=cmd.Correction(supersedes_sequence=wrong, reason="oxygen was charted for the wrong bed"),
        )
    )
    correction = journey.events[-1]
    assert correction.reason == "oxygen was charted for the wrong bed"
    assert correction.payload.supersedes == wrong  # type: ignore[union-attr]
    assert journey.state.highest_crs_grade == 1
    assert [a.superseded_by for a in journey.state.crs] == [correction.sequence, None]
    # The superseded entry is still in the record.
    assert journey.events[wrong - 1].payload.grade == 2  # type: ignore[union-attr]
    reasons = journey.refused(
        cmd.AssessCrs(
            actor=PHYSICIAN,
            assessed_at=journey.now,
            findings=crs_findings(),
            correction=cmd.Correction(supersedes_sequence=wrong, reason="again"),
        )
    )
    assert reasons == (f"entry {wrong} was already corrected by entry {correction.sequence}: correct the latest one",)


def test_a_serious_adverse_event_opens_a_report_and_grade_5_is_a_death() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=6)
    journey.do(
        cmd.RecordAdverseEvent(
            actor=PHYSICIAN,
            adverse_event=AdverseEvent(
                term="febrile neutropenia",
                ctcae_grade=3,
                serious=True,
                related_to_car_t="possible",
                onset_date=journey.today,
            ),
        )
    )
    assert journey.types()[-2:] == ["adverse_event_recorded", "expedited_report_opened"]
    journey.advance(days=1)
    journey.do(
        cmd.RecordAdverseEvent(
            actor=PHYSICIAN,
            adverse_event=AdverseEvent(
                term="cerebral edema",
                ctcae_grade=5,
                serious=True,
                related_to_car_t="probable",
                onset_date=journey.today,
            ),
        )
    )
    assert journey.types()[-3:] == ["adverse_event_recorded", "expedited_report_opened", "patient_died"]
    assert journey.state.phase is Phase.OFF_STUDY
    assert journey.state.treatment_related_death
    assert len(journey.state.open_expedited_reports) == 2
