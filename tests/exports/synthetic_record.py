"""A small synthetic trial record built through the decider (the shared path, tests/domain/journey_driver.py): a
child infused, with CRS and ICANS (a grade-0 check too) and other adverse events (one corrected, with its reason), the
day-28 MRD, two visits and a lymphodepletion run; a second child who failed screening; a third whose family withdrew
consent, in words longer than SAS transport holds. Signed steps are signed."""

from __future__ import annotations

from datetime import date, timedelta

from domain.journey import commands as cmd
from domain.journey.events import Event
from domain.toxicity import AdverseEvent, Consciousness
from simulation import journey_steps as path
from tests.domain.journey_driver import (
    INVESTIGATOR,
    PHYSICIAN,
    JourneyDriver,
    crs_findings,
    icans_findings,
    marrow,
)

TREATED = "TF-8101"
SCREEN_FAILED = "TF-8102"
WITHDRAWN = "TF-8103"
# The family's reason in their words, longer than SAS transport's 200 bytes (and not ASCII).
WITHDRAWAL_REASON = "家属决定举家迁往外地，无法继续在本中心随访。" * 5
CORRECTION_REASON = "grade typed from the wrong line of the chart"


def treated_journey(study_id: str = TREATED) -> JourneyDriver:
    journey = JourneyDriver(study_id)
    journey.to_follow_up()
    day_zero = journey.today
    journey.advance(hours=6)
    journey.do(cmd.AssessCrs(actor=PHYSICIAN, assessed_at=journey.now, findings=crs_findings(max_temperature_c=38.4)))
    journey.do(
        cmd.AssessCrs(
            actor=PHYSICIAN,
            assessed_at=journey.now,
            findings=crs_findings(max_temperature_c=39.4, hypotension=True, vasopressors_excluding_vasopressin=1),
        )
    )
    journey.do(cmd.AssessIcans(actor=PHYSICIAN, assessed_at=journey.now, findings=icans_findings()))  # none: grade 0
    journey.advance(hours=1)
    drowsy = icans_findings(capd_score=10, consciousness=Consciousness.AWAKENS_TO_VOICE)
    journey.do(cmd.AssessIcans(actor=PHYSICIAN, assessed_at=journey.now, findings=drowsy))
    journey.advance(hours=1)
    nausea = AdverseEvent(
        term="Nausea", ctcae_grade=2, serious=False, related_to_car_t="possible", onset_date=journey.today
    )
    journey.do(cmd.RecordAdverseEvent(actor=PHYSICIAN, adverse_event=nausea))
    first = journey.events[-1]
    correction = cmd.Correction(supersedes_sequence=first.sequence, reason=CORRECTION_REASON)
    journey.do(
        cmd.RecordAdverseEvent(
            actor=PHYSICIAN, adverse_event=nausea.model_copy(update={"ctcae_grade": 1}), correction=correction
        )
    )
    journey.move_to(day_zero + timedelta(days=7), hour=10)
    journey.walk([path.Step(journey.now, c) for c in path.scheduled_item(journey.patient, "D7", journey.today)])
    journey.move_to(day_zero + timedelta(days=14), hour=10)
    journey.walk([path.Step(journey.now, c) for c in path.scheduled_item(journey.patient, "D14", journey.today)])
    journey.move_to(day_zero + timedelta(days=28), hour=10)
    mrd = marrow(assessed_on=journey.today, marrow_blasts_percent=0.5, mrd_flow_percent=0.001)
    journey.walk(
        [path.Step(journey.now, c) for c in path.scheduled_item(journey.patient, "MRD", journey.today, marrow=mrd)]
    )
    return journey


def screen_failed_journey(study_id: str = SCREEN_FAILED) -> JourneyDriver:
    journey = JourneyDriver(study_id)
    journey.enroll(prior_car_t=True, performance_score=30)
    return journey


def withdrawn_journey(study_id: str = WITHDRAWN) -> JourneyDriver:
    journey = JourneyDriver(study_id)
    journey.to_apheresis()
    journey.advance(days=2)
    journey.do(cmd.WithdrawConsent(actor=INVESTIGATOR, withdrawn_on=journey.today, reason=WITHDRAWAL_REASON))
    return journey


def synthetic_record() -> dict[str, list[Event]]:
    return {
        TREATED: treated_journey().events,
        SCREEN_FAILED: screen_failed_journey().events,
        WITHDRAWN: withdrawn_journey().events,
    }


def day(value: str) -> date:
    return date.fromisoformat(value)
