"""The clinical review's grading and safety findings through a journey on the time-skipping server (issue 16:
1, an ICE the patient cannot perform; 3, fever masked by a recorded dose; 5, a late adverse event's report clock)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.protocol import PROTOCOL_V1
from domain.site_time import site_moment
from domain.toxicity import AdverseEvent, FeverMaskingDrug
from records import EventStore
from tests.domain.journey_driver import NURSE, PHYSICIAN, crs_findings, icans_findings
from tests.workflows.journey_client import JourneyClient
from workflows.patient_journey import PatientJourneyWorkflow

Env = tuple[WorkflowEnvironment, EventStore, str]


def _journey(env: Env, study_id: str) -> JourneyClient:
    temporal, _, task_queue = env
    return JourneyClient(temporal.client, task_queue, study_id, env=temporal)


async def test_a_teenager_unable_to_perform_the_ice_is_grade_3_with_a_24_hour_report(journey_env: Env) -> None:
    _, store, _ = journey_env
    journey = _journey(journey_env, "TF-161")
    today = await journey.today()
    await journey.to_infusion(date_of_birth=today - timedelta(days=13 * 365 + 30))
    day_zero = await journey.infuse()
    await journey.move_to(day_zero + timedelta(days=2))
    findings = icans_findings(capd_score=None, unable_to_perform_assessment=True)
    result = await journey.do(cmd.AssessIcans(actor=NURSE, assessed_at=await journey.now(), findings=findings))
    assessed = result.events[0].payload
    assert isinstance(assessed, ev.IcansAssessed)
    assert (assessed.age_years, assessed.grade) == (13, 3)
    assert assessed.reasons == ("unable to perform the ICE (e.g. global aphasia): scored 0/10: grade 3",)
    status = await journey.status()
    assert status.highest_icans_grade == 3 and status.dose_limiting_toxicity
    assert status.worst_icans is not None and status.worst_icans.reasons == assessed.reasons
    assert [r.reasons for r in status.open_expedited_reports] == [
        ("ICANS grade 3 (grade 3 or higher): report within 24 hours",)
    ]
    assert "expedited_report_opened" in [e.event_type for e in store.events_for("TF-161")]


async def test_fever_is_masked_only_by_a_recorded_dose_and_the_grade_names_it(journey_env: Env) -> None:
    journey = _journey(journey_env, "TF-162")
    await journey.to_infusion()
    day_zero = await journey.infuse()
    await journey.move_to(day_zero + timedelta(days=1))
    no_fever = crs_findings(max_temperature_c=37.2, hypotension=True, vasopressors_excluding_vasopressin=1)
    before = await journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=await journey.now(), findings=no_fever))
    assert [type(e.payload) for e in before.events] == [ev.CrsAssessed]  # not CRS: no fever, no dose
    assert before.events[0].payload.grade == 0  # type: ignore[union-attr]

    given_at = await journey.now()
    dose = await journey.do(
        cmd.RecordFeverMaskingDose(actor=PHYSICIAN, drug=FeverMaskingDrug.TOCILIZUMAB, dose_mg=8, given_at=given_at)
    )
    await journey.move_to(day_zero + timedelta(days=2))
    after = await journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=await journey.now(), findings=no_fever))
    assessed = after.events[0].payload
    assert isinstance(assessed, ev.CrsAssessed) and assessed.grade == 3
    assert assessed.fever_masked_by is not None and assessed.fever_masked_by.sequence == dose.events[0].sequence
    assert assessed.reasons[0].startswith(
        f"fever masked by tocilizumab 8 mg given {given_at.isoformat()} (entry {dose.events[0].sequence})"
    )
    assert [type(e.payload) for e in after.events] == [ev.CrsAssessed, ev.ExpeditedReportOpened]
    timeline = await journey.handle.query(PatientJourneyWorkflow.timeline)
    crs_lines = [entry for entry in timeline if entry.type == "crs_assessed"]
    assert crs_lines[-1].details[0] == "CRS grade 3"
    assert crs_lines[-1].details[1] == assessed.reasons[0]


async def test_an_adverse_event_entered_late_is_due_from_awareness_and_escalated_at_once(journey_env: Env) -> None:
    _, store, _ = journey_env
    journey = _journey(journey_env, "TF-163")
    await journey.to_infusion()
    day_zero = await journey.infuse()
    await journey.move_to(day_zero + timedelta(days=5))
    onset = day_zero + timedelta(days=2)
    aware = site_moment(onset, 15, PROTOCOL_V1.schedule)
    sae = AdverseEvent(
        term="febrile neutropenia",
        ctcae_grade=3,
        serious=True,
        related_to_car_t="possible",
        onset_date=onset,
        aware_at=aware,
    )
    result = await journey.do(cmd.RecordAdverseEvent(actor=PHYSICIAN, adverse_event=sae))
    opened = result.events[-1].payload
    assert isinstance(opened, ev.ExpeditedReportOpened)
    assert opened.aware_at == aware and opened.due_at == aware + timedelta(hours=24)
    await journey.settled()
    types = [e.event_type for e in store.events_for("TF-163")]
    assert types[-2:] == ["expedited_report_opened", "expedited_report_overdue"]  # no fresh 24 hours
    status = await journey.status()
    assert [r.overdue for r in status.open_expedited_reports] == [True]
