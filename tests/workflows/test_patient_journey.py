"""PatientJourneyWorkflow on the time-skipping server: whole journeys, exits, refusals, idempotent retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.projections import project_cohort
from config import search_attributes as sa
from domain.journey import commands as cmd
from domain.journey.phases import ExitReason, Phase
from domain.schedule import VisitStatus
from records import EventStore
from tests.domain.journey_driver import (
    APHERESIS,
    CELL_LAB,
    COORDINATOR,
    INVESTIGATOR,
    LAB,
    NURSE,
    PHYSICIAN,
    crs_findings,
    icans_findings,
    marrow,
)
from tests.workflows.journey_client import JourneyClient

Env = tuple[WorkflowEnvironment, EventStore, str]


def _journey(env: Env, study_id: str) -> JourneyClient:
    temporal, _, task_queue = env
    return JourneyClient(temporal.client, task_queue, study_id, env=temporal)


async def test_the_complete_five_and_fifteen_year_journey(journey_env: Env) -> None:
    _, store, _ = journey_env
    journey = _journey(journey_env, "TF-101")
    await journey.to_infusion()
    day_zero = await journey.infuse()

    for day in range(1, 7):  # daily CRS/ICANS in the first week; the visits follow
        await journey.move_to(day_zero + timedelta(days=day), hour=9)
        temperature = 38.3 if day == 1 else 36.8
        now = await journey.now()
        await journey.do(
            cmd.AssessCrs(actor=NURSE, assessed_at=now, findings=crs_findings(max_temperature_c=temperature))
        )
        await journey.do(cmd.AssessIcans(actor=NURSE, assessed_at=now, findings=icans_findings()))

    status = await journey.status()
    items = sorted(status.visits, key=lambda v: (v.target_date, v.code))
    year_five = next(v for v in items if v.code == "Y5")
    for item in items:
        await journey.move_to(item.target_date, hour=10)
        today = await journey.today()
        if item.code == "MRD":
            await journey.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(today)))
        elif item.code == "CHEMO":
            await journey.do(cmd.RecordChemotherapyResumed(actor=PHYSICIAN, resumed_on=today, from_protocol_step=True))
        else:
            await journey.do(cmd.RecordVisit(actor=COORDINATOR, visit_code=item.code, visit_date=today))
            if item.code == "M12":
                await journey.do(cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(today)))
        if item.code == "Y5":  # the five-year journey: efficacy follow-up done, every visit in its window
            five = await journey.status()
            assert five.primary_endpoint == "cr"
            done = [v for v in five.visits if v.target_date <= year_five.target_date]
            assert {v.status for v in done} == {VisitStatus.DONE_IN_WINDOW}

    last_window = max(v.window_closes for v in items)
    await journey.move_to(last_window + timedelta(days=2))
    summary = await journey.handle.result()

    assert summary.phase is Phase.COMPLETED
    assert summary.completed_on == last_window + timedelta(days=1)
    assert summary.primary_endpoint == "cr"
    assert summary.highest_crs_grade == 1 and summary.highest_icans_grade == 0
    assert summary.runs >= 4  # a new run at each follow-up era

    recorded = store.events_for("TF-101")
    assert [e.sequence for e in recorded] == list(range(1, summary.events_recorded + 1))
    assert store.verify("TF-101").ok
    # The record's head, as each append returned it, carried across every run: Temporal's witness of the record.
    head = store.chain_head("TF-101")
    assert head is not None and summary.record_head is not None
    assert (summary.record_head.sequence, summary.record_head.hash) == (head.sequence, head.hash)
    types = [e.event_type for e in recorded]
    assert types[0] == "patient_enrolled" and types[-1] == "journey_completed"
    assert types.count("visit_completed") == 28
    assert "visit_missed" not in types
    eras = [e.payload["era"] for e in recorded if e.event_type == "follow_up_era_started"]
    assert eras == ["early_follow_up", "follow_up", "long_term_follow_up"]
    # The supervisors' projection is rebuilt from the record, and agrees with the workflow.
    projected = store.patient_summary("TF-101")
    assert projected is not None and projected.phase == "completed"
    assert projected.updated_through_sequence == summary.events_recorded
    assert projected.summary["primary_endpoint"] == "cr"
    cohort = store.cohort_summary(project_cohort)
    assert cohort.summary["by_phase"]["completed"] >= 1


async def test_a_refused_command_names_every_reason_and_changes_nothing(journey_env: Env) -> None:
    journey = _journey(journey_env, "TF-102")
    await journey.to_infusion()
    before = await journey.status()
    wrong_bag = "COI-TF002-C01-" + "X"
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await journey.do(journey.infusion(wrong_bag, await journey.now(), actor=NURSE, tocilizumab_doses_on_site=0))
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "CommandRejected"
    reasons = list(cause.details)
    assert reasons[0] == "a nurse cannot record infusion; this must be done by a physician or an investigator"
    assert any(r.startswith("STOP: the bag does not match this patient") for r in reasons)
    assert any("tocilizumab" in r for r in reasons)
    assert any("outside the 2-14 day window" in r for r in reasons)
    after = await journey.status()
    assert after.last_sequence == before.last_sequence
    assert after.phase is Phase.INFUSION


async def test_a_retried_command_is_answered_again_never_applied_twice(journey_env: Env) -> None:
    _, store, _ = journey_env
    journey = _journey(journey_env, "TF-103")
    await journey.start()
    update_id = "confirm-TF-103-once"
    first = await journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR), update_id=update_id)
    again = await journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR), update_id=update_id)
    assert first == again
    assert [e.event_type for e in store.events_for("TF-103")].count("eligibility_confirmed") == 1


async def test_screen_failure_ends_the_workflow_with_its_reasons(journey_env: Env) -> None:
    _, store, _ = journey_env
    journey = _journey(journey_env, "TF-104")
    await journey.start(prior_car_t=True, spo2_room_air_percent=90.0)
    summary = await journey.handle.result()
    assert summary.phase is Phase.OFF_STUDY
    assert summary.exit is not None and summary.exit.reason is ExitReason.SCREEN_FAILURE
    assert "SpO" in summary.exit.details and "CAR-T" in summary.exit.details
    assert [e.event_type for e in store.events_for("TF-104")][-1] == "screen_failed"


async def test_late_infusion_escalates_and_an_expedited_report_is_escalated_when_unconfirmed(
    journey_env: Env,
) -> None:
    _, store, _ = journey_env
    journey = _journey(journey_env, "TF-105")
    await journey.to_infusion()
    status = await journey.status()
    window = next(d for d in status.due if d.code == "INFUSION")
    assert window.window_closes is not None
    await journey.move_to(window.window_closes + timedelta(days=1))
    assert "infusion_window_expired" in [e.event_type for e in store.events_for("TF-105")]
    late = await journey.status()
    assert late.overdue and "LATE-INFUSION" in [d.code for d in late.due]

    await journey.do(cmd.ApproveInfusionOutsideWindow(actor=INVESTIGATOR, reason="infection resolved"))
    assert late.chain_of_identity is not None
    await journey.thaw()
    await journey.do(journey.infusion(late.chain_of_identity, await journey.now()))
    day_zero = await journey.today()
    await journey.move_to(day_zero + timedelta(days=3))
    await journey.do(
        cmd.AssessCrs(
            actor=PHYSICIAN,
            assessed_at=await journey.now(),
            findings=crs_findings(max_temperature_c=39.5, hypotension=True, vasopressors_excluding_vasopressin=2),
        )
    )
    open_report = (await journey.status()).open_expedited_reports
    assert [r.overdue for r in open_report] == [False]
    await journey.move_to(day_zero + timedelta(days=5))
    types = [e.event_type for e in store.events_for("TF-105")]
    assert types.count("expedited_report_overdue") == 1
    final = await journey.status()
    assert final.highest_crs_grade == 4 and final.open_expedited_reports[0].overdue
    described = await journey.handle.describe()
    attributes = described.typed_search_attributes
    assert attributes.get(sa.EXPEDITED_REPORT_OPEN) is True
    assert attributes.get(sa.HIGHEST_CRS_GRADE) == 4
    assert attributes.get(sa.TRIAL_PHASE) == "toxicity_observation"


async def test_an_expedited_report_confirmed_in_time_is_not_escalated(journey_env: Env) -> None:
    _, store, _ = journey_env
    journey = _journey(journey_env, "TF-106")
    await journey.to_infusion()
    day_zero = await journey.infuse()
    await journey.move_to(day_zero + timedelta(days=2))
    result = await journey.do(
        cmd.AssessIcans(actor=PHYSICIAN, assessed_at=await journey.now(), findings=icans_findings(capd_score=10))
    )
    report_id = result.events[-1].payload.report_id  # type: ignore[union-attr]
    await journey.move_to(day_zero + timedelta(days=2), hour=20)
    await journey.do(
        cmd.ConfirmExpeditedReport(
            actor=INVESTIGATOR,
            report_id=report_id,
            submitted_at=await journey.now(),
            sponsor_reference="SP-1",
        )
    )
    await journey.move_to(day_zero + timedelta(days=4))
    types = [e.event_type for e in store.events_for("TF-106")]
    assert "expedited_report_submitted" in types and "expedited_report_overdue" not in types


async def test_a_missed_visit_is_reminded_and_recorded_missed(journey_env: Env) -> None:
    _, store, _ = journey_env
    journey = _journey(journey_env, "TF-107")
    await journey.to_infusion()
    day_zero = await journey.infuse()
    await journey.move_to(day_zero + timedelta(days=10))
    d7 = [e for e in store.events_for("TF-107") if e.payload.get("visit_code") == "D7"]
    assert [e.event_type for e in d7] == ["visit_reminder_issued", "visit_reminder_issued", "visit_missed"]
    assert all(e.actor_role == "system" for e in d7)
    status = await journey.status()
    assert next(v for v in status.visits if v.code == "D7").status is VisitStatus.MISSED


async def test_each_exit_ends_the_workflow_cleanly(journey_env: Env) -> None:
    exits = {
        "TF-110": (ExitReason.CONSENT_WITHDRAWN, "withdraw"),
        "TF-111": (ExitReason.LOST_TO_FOLLOW_UP, "lost"),
        "TF-112": (ExitReason.INVESTIGATOR_DECISION, "off"),
        "TF-113": (ExitReason.INFUSION_NOT_GIVEN, "not_given"),
    }
    for study_id, (expected, how) in exits.items():
        journey = _journey(journey_env, study_id)
        await journey.to_infusion()
        today = await journey.today()
        command: cmd.StaffCommand = {
            "withdraw": cmd.WithdrawConsent(actor=INVESTIGATOR, withdrawn_on=today, reason="family decision"),
            "lost": cmd.RecordLostToFollowUp(actor=COORDINATOR, last_contact_on=today, reason="moved abroad"),
            "off": cmd.TakeOffStudy(actor=INVESTIGATOR, reason="investigator decision"),
            "not_given": cmd.RecordInfusionNotGiven(actor=INVESTIGATOR, reason="persistent infection"),
        }[how]
        await journey.do(command)
        summary = await journey.handle.result()
        assert summary.phase is Phase.OFF_STUDY
        assert summary.exit is not None and summary.exit.reason is expected


async def test_death_keeps_the_workflow_open_until_its_safety_report_is_confirmed(journey_env: Env) -> None:
    journey = _journey(journey_env, "TF-114")
    await journey.to_infusion()
    day_zero = await journey.infuse()
    await journey.move_to(day_zero + timedelta(days=5))
    result = await journey.do(
        cmd.RecordDeath(actor=PHYSICIAN, died_on=await journey.today(), cause="cerebral edema", treatment_related=True)
    )
    report_id = result.events[-1].payload.report_id  # type: ignore[union-attr]
    status = await journey.status()
    assert status.phase is Phase.OFF_STUDY and status.open_expedited_reports
    await journey.do(
        cmd.ConfirmExpeditedReport(
            actor=INVESTIGATOR,
            report_id=report_id,
            submitted_at=await journey.now(),
            sponsor_reference="SP-9",
        )
    )
    summary = await journey.handle.result()
    assert summary.exit is not None and summary.exit.reason is ExitReason.DEATH


async def test_manufacturing_failure_after_the_recollection_ends_the_workflow(journey_env: Env) -> None:
    journey = _journey(journey_env, "TF-115")
    await journey.start()
    today = await journey.today()
    await journey.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))
    await journey.do(
        cmd.RecordConsent(
            actor=INVESTIGATOR,
            guardian_consent_signed_on=today,
            consent_form_version="v2",
            child_assent_obtained=True,
        )
    )
    for attempt in range(2):
        await journey.move_to(today + timedelta(days=1 + 10 * attempt))
        await journey.do(cmd.RecordApheresis(actor=APHERESIS, collected_on=await journey.today()))
        await journey.do(
            cmd.RecordManufacturingFailure(actor=CELL_LAB, failed_on=await journey.today(), reason="out of spec")
        )
    summary = await journey.handle.result()
    assert summary.exit is not None and summary.exit.reason is ExitReason.MANUFACTURING_FAILURE


async def test_relapse_continues_survival_follow_up(journey_env: Env) -> None:
    journey = _journey(journey_env, "TF-116")
    await journey.to_infusion()
    day_zero = await journey.infuse()
    await journey.move_to(day_zero + timedelta(days=90))
    await journey.do(
        cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(await journey.today(), marrow_blasts_percent=30.0))
    )
    status = await journey.status()
    assert status.phase is Phase.SURVIVAL_FOLLOW_UP and status.relapse_on == await journey.today()
    assert status.primary_endpoint == "not_cr"
    await journey.move_to(day_zero + timedelta(days=200))
    assert (await journey.status()).phase is Phase.SURVIVAL_FOLLOW_UP
