"""An exact repeat of an assessment (same kind, same moment, same findings) is refused as already recorded, naming
the entry: a retry after a lost reply, sent without its key, is not counted twice. A different moment or finding is a
new assessment; a correction is judged as a correction; once corrected, the old findings may be entered anew."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

from domain.journey import commands as cmd
from domain.toxicity import AdverseEvent, Consciousness
from tests.domain.journey_driver import LAB, NURSE, PHYSICIAN, JourneyDriver, crs_findings, icans_findings, marrow


def _after_infusion() -> JourneyDriver:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=2)
    return journey


def test_the_same_crs_assessment_twice_is_refused_naming_the_entry() -> None:
    journey = _after_infusion()
    assessment = cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings(max_temperature_c=38.4))
    journey.do(assessment)
    entry = journey.events[-1].sequence
    # The same instant written with another UTC offset is the same moment.
    elsewhere = assessment.assessed_at.astimezone(timezone(timedelta(hours=8)))
    for repeat in (assessment, assessment.model_copy(update={"assessed_at": elsewhere, "actor": PHYSICIAN})):
        [reason] = journey.refused(repeat)
        assert f"this CRS assessment is already recorded (entry {entry})" in reason
    # Another finding, or another moment, is another assessment.
    journey.do(assessment.model_copy(update={"findings": crs_findings(max_temperature_c=39.5)}))
    journey.do(assessment.model_copy(update={"assessed_at": journey.now + timedelta(minutes=1)}))
    assert journey.types().count("crs_assessed") == 3


def test_a_correction_back_then_the_old_findings_again_is_allowed() -> None:
    journey = _after_infusion()
    first = cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings(max_temperature_c=38.4))
    journey.do(first)
    entry = journey.events[-1].sequence
    corrected = first.model_copy(
        update={
            "findings": crs_findings(max_temperature_c=38.9),
            "correction": cmd.Correction(supersedes_sequence=entry, reason="misread thermometer"),
        }
    )
    journey.do(corrected)
    # Entry `entry` no longer counts as recorded: its findings are a new entry now (nothing current holds them).
    journey.do(first)
    assert journey.types().count("crs_assessed") == 3


def test_icans_adverse_event_and_disease_assessment_repeats_are_refused_too() -> None:
    journey = _after_infusion()
    icans = cmd.AssessIcans(
        actor=PHYSICIAN,
        assessed_at=journey.now.astimezone(UTC),
        findings=icans_findings(capd_score=4, consciousness=Consciousness.AWAKENS_TO_VOICE),
    )
    journey.do(icans)
    assert "this ICANS assessment is already recorded" in journey.refused(icans)[0]

    event = AdverseEvent(
        term="febrile neutropenia", ctcae_grade=2, serious=False, related_to_car_t="possible", onset_date=journey.today
    )
    adverse = cmd.RecordAdverseEvent(actor=PHYSICIAN, adverse_event=event)
    journey.do(adverse)
    assert "this adverse event is already recorded" in journey.refused(adverse)[0]
    journey.do(adverse.model_copy(update={"adverse_event": event.model_copy(update={"ctcae_grade": 3})}))

    assessment = cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(journey.today))
    journey.do(assessment)
    assert "this disease assessment is already recorded" in journey.refused(assessment)[0]
