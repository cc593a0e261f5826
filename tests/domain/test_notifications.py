"""What staff are told, by whom, how urgently: hand-overs, reminders, missed visits, late infusion, 24 h safety
reports and their escalation, and the escalation of a message nobody could receive. Study id only, never PHI."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.journey import commands as cmd
from domain.journey.events import Event
from domain.journey.notifications import (
    DEFAULT_ESCALATION_ROLES,
    Notification,
    NotificationFacts,
    Topic,
    Urgency,
    escalation_for,
    notifications_for,
)
from domain.roles import Role
from domain.toxicity import AdverseEvent
from tests.domain.journey_driver import (
    COORDINATOR,
    INVESTIGATOR,
    NURSE,
    PHARMACY,
    PHYSICIAN,
    JourneyDriver,
    crs_findings,
    screening,
)

ROUTINE, SOON, NOW = Urgency.ROUTINE, Urgency.SOON, Urgency.IMMEDIATE
DATE_OF_BIRTH = "2016-03-10"  # tests/domain/examples.py screening()


def told(events: list[Event]) -> list[tuple[str, Role, Urgency]]:
    """(event type, role, urgency) of every notification, in the order of the events."""
    return [(e.type, n.role, n.urgency) for e in events for n in notifications_for(e)]


def notes(events: list[Event], event_type: str) -> list[Notification]:
    return [n for e in events if e.type == event_type for n in notifications_for(e)]


def grade_3_crs(journey: JourneyDriver) -> None:
    findings = crs_findings(max_temperature_c=39.2, hypotension=True, vasopressors_excluding_vasopressin=1)
    journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=findings))


def test_each_phase_hands_over_to_the_role_that_acts_next() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=2)
    grade_3_crs(journey)

    assert told(journey.events) == [
        ("eligibility_assessed", Role.INVESTIGATOR, ROUTINE),
        ("eligibility_confirmed", Role.INVESTIGATOR, ROUTINE),
        ("consent_signed", Role.APHERESIS_UNIT, ROUTINE),
        ("apheresis_collected", Role.CELL_LAB, ROUTINE),
        ("product_released", Role.PHARMACY, SOON),
        ("product_released", Role.PHYSICIAN, SOON),
        ("lymphodepletion_prescribed", Role.PHARMACY, SOON),
        ("lymphodepletion_completed", Role.PHYSICIAN, SOON),
        ("cells_infused", Role.NURSE, SOON),
        ("cells_infused", Role.PHYSICIAN, SOON),
        ("expedited_report_opened", Role.INVESTIGATOR, NOW),
    ]
    [released] = notes(journey.events, "product_released")[:1]
    assert released.body.endswith("plan lymphodepletion.")
    [window] = notes(journey.events, "lymphodepletion_completed")
    completed = journey.state.lymphodepletion_completed
    assert completed is not None
    assert f"Infuse between {completed.infusion_window_opens} and {completed.infusion_window_closes}" in window.body


def test_grade_3_crs_goes_to_the_investigator_at_once_with_the_24_hour_deadline() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=2)
    grade_3_crs(journey)

    [report] = journey.state.open_expedited_reports
    [note] = notifications_for(journey.events[-1], tuple(journey.events[-2:]))
    assert (note.role, note.urgency) == (Role.INVESTIGATOR, Urgency.IMMEDIATE)
    assert report.due_at == journey.now + timedelta(hours=24)
    assert report.due_at.isoformat() in note.subject and report.due_at.isoformat() in note.body
    assert "CRS grade 3" in note.body
    assert report.report_id in note.body


def test_a_serious_adverse_event_goes_to_the_investigator_at_once() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=6)
    adverse_event = AdverseEvent(
        term="febrile neutropenia", ctcae_grade=3, serious=True, related_to_car_t="possible", onset_date=journey.today
    )
    journey.do(cmd.RecordAdverseEvent(actor=PHYSICIAN, adverse_event=adverse_event))

    [note] = notifications_for(journey.events[-1], tuple(journey.events[-2:]))
    assert (note.role, note.urgency) == (Role.INVESTIGATOR, Urgency.IMMEDIATE)
    assert "an adverse event of CTCAE grade 3, serious" in note.body
    assert "febrile" not in note.subject + note.body  # the term is typed: it stays in the record


def test_a_report_past_its_deadline_is_escalated_to_investigator_and_supervisor_and_a_late_one_noted() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=2)
    grade_3_crs(journey)
    [report] = journey.state.open_expedited_reports
    fired = journey.run_timers_until(report.due_at + timedelta(hours=1))
    journey.do(
        cmd.ConfirmExpeditedReport(
            actor=INVESTIGATOR, report_id=report.report_id, submitted_at=journey.now, sponsor_reference="SP-8"
        )
    )

    assert [(n.role, n.urgency) for n in notes(fired, "expedited_report_overdue")] == [
        (Role.INVESTIGATOR, NOW),
        (Role.SUPERVISOR, NOW),
    ]
    assert "submit it to the sponsor now" in notes(fired, "expedited_report_overdue")[0].body
    [late] = notifications_for(journey.events[-1])
    assert (late.role, late.urgency) == (Role.SUPERVISOR, ROUTINE)
    assert "after its deadline" in late.body


def test_a_report_confirmed_in_time_tells_nobody() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=2)
    grade_3_crs(journey)
    [report] = journey.state.open_expedited_reports
    journey.do(
        cmd.ConfirmExpeditedReport(
            actor=INVESTIGATOR, report_id=report.report_id, submitted_at=journey.now, sponsor_reference="SP-9"
        )
    )
    assert notifications_for(journey.events[-1]) == []


def test_visit_windows_are_reminded_before_they_open_and_close_and_a_missed_visit_is_told() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    infusion = journey.state.infusion
    assert infusion is not None
    fired = journey.run_timers_until(journey.at_site(infusion.day_zero + timedelta(days=40)))

    reminders = notes(fired, "visit_reminder_issued")
    d7 = [n for n in reminders if n.subject.endswith("D7 reminder")]
    assert [n.role for n in d7] == [Role.RESEARCH_COORDINATOR] * 2
    assert "opens soon" in d7[0].body and "schedule it" in d7[0].body
    assert "is closing" in d7[1].body and "by the last day" in d7[1].body
    mrd = [n for n in reminders if n.subject.endswith("MRD reminder")]
    assert mrd and {n.role for n in mrd} == {Role.LABORATORY}

    missed = notes(fired, "visit_missed")
    assert missed, "no visit was recorded, so the first ones are missed"
    assert [(n.role, n.urgency) for n in missed[:2]] == [(Role.RESEARCH_COORDINATOR, SOON), (Role.INVESTIGATOR, SOON)]
    assert "recorded as missed" in missed[0].body and "contact the family" in missed[0].body

    era = notes(fired, "follow_up_era_started")
    assert [(n.role, n.subject) for n in era] == [
        (Role.RESEARCH_COORDINATOR, "TF-001: early follow-up begins"),
        (Role.RESEARCH_COORDINATOR, "TF-001: follow-up begins"),
    ]


def test_a_closed_infusion_window_is_urgent_and_an_approved_late_infusion_goes_to_the_physician() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    completed = journey.state.lymphodepletion_completed
    assert completed is not None
    fired = journey.run_timers_until(journey.at_site(completed.infusion_window_closes + timedelta(days=1), hour=12))
    journey.do(cmd.ApproveInfusionOutsideWindow(actor=INVESTIGATOR, reason="infection resolved"))

    [expired] = notes(fired, "infusion_window_expired")
    assert (expired.role, expired.urgency) == (Role.INVESTIGATOR, Urgency.IMMEDIATE)
    assert "approve a late infusion or record it not given" in expired.body
    [approved] = notifications_for(journey.events[-1])
    assert (approved.role, approved.urgency) == (Role.PHYSICIAN, Urgency.SOON)
    assert "infuse and record it" in approved.body


def test_an_out_of_specification_product_goes_to_the_investigator_and_the_decision_to_who_acts_on_it() -> None:
    deviation = JourneyDriver()
    deviation.to_lymphodepletion(cells=4.0e7)
    deviation.prescribe()
    deviation.do(
        cmd.DecideOutOfSpecProduct(actor=INVESTIGATOR, decision="infuse_as_deviation", reason="no alternative")
    )
    remanufacture = JourneyDriver()
    remanufacture.to_lymphodepletion(cells=4.0e7)
    remanufacture.prescribe()
    remanufacture.do(cmd.DecideOutOfSpecProduct(actor=INVESTIGATOR, decision="remanufacture", reason="retained"))

    prescribed = notes(deviation.events, "lymphodepletion_prescribed")
    assert [n.role for n in prescribed] == [Role.PHARMACY, Role.INVESTIGATOR]
    assert "decide now" in prescribed[1].body
    assert [n.role for n in notifications_for(deviation.events[-1])] == [Role.PHYSICIAN]
    assert [n.role for n in notifications_for(remanufacture.events[-1])] == [Role.CELL_LAB]


def test_a_lymphodepletion_dose_that_differs_from_the_prescription_goes_to_the_investigator() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.prescribe()
    plan = journey.state.lymphodepletion
    assert plan is not None
    journey.move_to(plan.planned_start_on, hour=10)
    journey.do(
        cmd.RecordLymphodepletionDose(
            actor=PHARMACY,
            drug="fludarabine",
            day_number=1,
            dose_mg=plan.daily_dose_mg["fludarabine"],
            given_at=journey.now,
        )
    )
    assert notifications_for(journey.events[-1]) == []
    journey.do(
        cmd.RecordLymphodepletionDose(
            actor=PHARMACY,
            drug="cyclophosphamide",
            day_number=1,
            dose_mg=200.0,
            given_at=journey.now,
            deviation_reason="vomited half",
        )
    )
    [note] = notifications_for(journey.events[-1])
    assert (note.role, note.urgency) == (Role.INVESTIGATOR, Urgency.SOON)
    assert "200 mg given" in note.body and "vomited" not in note.body


def test_messages_carry_the_study_id_and_never_a_birth_date_or_what_staff_typed() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=3)
    journey.do(cmd.TakeOffStudy(actor=INVESTIGATOR, reason="Family of Jane Doe moved to Springfield"))

    every = [n for e in journey.events for n in notifications_for(e)]
    assert every
    for note in every:
        assert note.study_id == "TF-001" and note.subject.startswith("TF-001: ")
        assert note.key.startswith("TF-001/")
        text = note.subject + note.body
        assert DATE_OF_BIRTH not in text
        assert "Jane" not in text and "Springfield" not in text
    assert len({n.key for n in every}) == len(every)
    off = notifications_for(journey.events[-1])
    assert [n.role for n in off] == [Role.INVESTIGATOR, Role.RESEARCH_COORDINATOR]
    assert "the reason is in the record" in off[0].body


def test_death_is_told_to_investigator_and_supervisor_at_once() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=3)
    journey.do(cmd.RecordDeath(actor=PHYSICIAN, died_on=journey.today, cause="sepsis", treatment_related=True))
    assert told(journey.events[-2:]) == [
        ("patient_died", Role.INVESTIGATOR, NOW),
        ("patient_died", Role.SUPERVISOR, NOW),
        ("expedited_report_opened", Role.INVESTIGATOR, NOW),
    ]


def test_a_screen_failure_tells_the_coordinator_why_and_what_to_do() -> None:
    journey = JourneyDriver()
    journey.do(
        cmd.EnrollPatient(
            actor=COORDINATOR,
            study_id="TF-001",
            screening=screening(performance_score=40),
        )
    )
    [note] = [n for e in journey.events for n in notifications_for(e)]
    assert note.role is Role.RESEARCH_COORDINATOR
    [failed] = journey.events[-1].payload.failed  # type: ignore[union-attr]
    assert f"1 criteria not met: {failed.code.replace('_', ' ')}" in note.body and "file the screening log" in note.body


# ---------------------------------------------------------------- escalation of an undelivered notification


@pytest.mark.parametrize(
    ("role", "covering"),
    [
        (Role.PHARMACY, Role.INVESTIGATOR),
        (Role.NURSE, Role.INVESTIGATOR),
        (Role.LABORATORY, Role.INVESTIGATOR),
        (Role.INVESTIGATOR, Role.SUPERVISOR),
        (Role.SUPERVISOR, Role.SUPERVISOR),
    ],
)
def test_an_undelivered_notification_escalates_to_the_covering_role(role: Role, covering: Role) -> None:
    original = Notification(
        key=f"TF-001/7/{role.value}",
        study_id="TF-001",
        role=role,
        urgency=Urgency.ROUTINE,
        topic=Topic.PRODUCT_RELEASED,
        facts=NotificationFacts(cells=2e8, on=date(2026, 2, 1), chain_of_identity="TF-001-01-K"),
    )
    escalation = escalation_for(original, "1 of 1 deliveries failed: webhook https://chat.example#abc: HTTP 503")

    assert DEFAULT_ESCALATION_ROLES[role] is covering
    assert escalation.role is covering
    assert escalation.key == f"TF-001/7/{role.value}/escalation" != original.key
    assert escalation.study_id == "TF-001" and escalation.subject.startswith("TF-001: NOT DELIVERED")
    assert "product released" in escalation.subject
    assert "HTTP 503" in escalation.body and "plan lymphodepletion" in escalation.body
    assert escalation.urgency is Urgency.SOON  # a routine message that reached nobody is no longer routine


def test_an_escalation_goes_where_it_is_told_and_keeps_an_immediate_urgency() -> None:
    original = Notification(
        key="TF-002/12/investigator",
        study_id="TF-002",
        role=Role.INVESTIGATOR,
        urgency=Urgency.IMMEDIATE,
        topic=Topic.EXPEDITED_REPORT_DUE,
        facts=NotificationFacts(report_id="ER-00012", crs_grade=3),
    )
    escalation = escalation_for(original, "SMTP 550", to=Role.PHYSICIAN)
    assert (escalation.role, escalation.urgency) == (Role.PHYSICIAN, Urgency.IMMEDIATE)


def test_every_person_role_has_a_covering_role_and_the_system_is_never_told() -> None:
    assert set(DEFAULT_ESCALATION_ROLES) == set(Role) - {Role.SYSTEM}
    assert Role.SYSTEM not in DEFAULT_ESCALATION_ROLES.values()
