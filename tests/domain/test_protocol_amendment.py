"""Amendment 1.1 in the domain: its definition, the new exclusion, and a running 1.0 patient's signed re-consent
(accepted: onto 1.1 with the day-60 MRD and month 3 at ± 14 days; declined: on 1.0 as before)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.amendment import amend
from domain.eligibility import ScreeningData, assess_eligibility
from domain.journey import commands as cmd
from domain.journey.calendar import MRD2_CODE, find_item
from domain.journey.notifications import notifications_for
from domain.journey.views import patient_status
from domain.protocol import PROTOCOL_V1, PROTOCOL_V1_1, PROTOCOLS, protocol_in_effect
from domain.roles import SYSTEM_ACTOR, Role
from domain.schedule import calendar_problems
from tests.domain.journey_driver import COORDINATOR, INVESTIGATOR, LAB, JourneyDriver, marrow, screening


def test_protocol_1_1_changes_exactly_what_the_amendment_says() -> None:
    assert set(PROTOCOLS) == {"1.0", "1.1"}
    assert calendar_problems(PROTOCOL_V1_1.schedule) == []
    # Built again as an amendment of 1.0 (with its calendar check), it is the same definition.
    rebuilt = amend(
        PROTOCOL_V1,
        "1.1",
        eligibility={"recent_therapy_exclusion_drugs": ("blinatumomab", "inotuzumab ozogamicin")},
        schedule={"second_mrd_evaluation_day": 60, "visit_windows": ({"code": "M3", "window_days": 14},)},
    )
    assert rebuilt == PROTOCOL_V1_1
    changed = {k for k, v in PROTOCOL_V1_1.model_dump().items() if PROTOCOL_V1.model_dump()[k] != v}
    assert changed == {"version", "eligibility", "schedule"}


def test_an_unsafe_second_mrd_or_a_window_for_no_visit_is_refused() -> None:
    with pytest.raises(ValueError, match="unsafe") as refused:
        amend(
            PROTOCOL_V1,
            "9.9",
            schedule={"second_mrd_evaluation_day": 30, "visit_windows": ({"code": "M99", "window_days": 3},)},
        )
    assert "the second MRD evaluation's window must open after the first one's closes" in str(refused.value)
    assert "'M99'" in str(refused.value)


def test_the_effective_dates_decide_a_screenings_version() -> None:
    dates = {"1.1": date(2026, 3, 1)}
    assert protocol_in_effect(date(2026, 2, 28), dates) is PROTOCOL_V1
    assert protocol_in_effect(date(2026, 3, 1), dates) is PROTOCOL_V1_1
    assert protocol_in_effect(date(2030, 1, 1), {}) is PROTOCOL_V1
    with pytest.raises(ValueError, match=r"unknown protocol version '2\.0'"):
        protocol_in_effect(date(2026, 3, 1), {"2.0": date(2026, 1, 1)})


def _screened(**values: object) -> ScreeningData:
    return screening(**values)


def test_the_new_exclusion_applies_under_1_1_only() -> None:
    recent = _screened(blinatumomab_or_inotuzumab_last_given=date(2025, 12, 22))  # 14 days before 5 January
    long_ago = _screened(blinatumomab_or_inotuzumab_last_given=date(2025, 12, 21))
    never = _screened(blinatumomab_or_inotuzumab_last_given="never")
    failed = assess_eligibility(recent, PROTOCOL_V1_1.eligibility)
    assert [f.code for f in failed.failed] == ["recent_blinatumomab_or_inotuzumab"]
    assert "14 days before screening" in failed.failed[0].reason
    assert assess_eligibility(long_ago, PROTOCOL_V1_1.eligibility).eligible
    assert assess_eligibility(never, PROTOCOL_V1_1.eligibility).eligible
    assert assess_eligibility(recent, PROTOCOL_V1.eligibility).eligible
    with pytest.raises(ValueError, match="cannot be last given after the screening date"):
        _screened(blinatumomab_or_inotuzumab_last_given=date(2026, 1, 6))


def test_a_screening_under_1_1_must_say_when_the_drugs_were_last_given() -> None:
    journey = JourneyDriver("TF-1101", PROTOCOL_V1_1)
    reasons = journey.refused(cmd.EnrollPatient(actor=COORDINATOR, study_id="TF-1101", screening=screening()))
    assert reasons == ('screening.blinatumomab_or_inotuzumab_last_given is required (the date last given, or "never")',)
    journey.enroll(blinatumomab_or_inotuzumab_last_given=date(2025, 12, 30))
    assert journey.state.protocol_version == "1.1"
    assert journey.types()[-1] == "screen_failed"
    # Under 1.0 the same screening neither needs the value nor is excluded by it.
    old = JourneyDriver("TF-1102")
    old.enroll()
    assert old.state.protocol_version == "1.0" and old.state.eligibility and old.state.eligibility.eligible


def _reconsent(journey: JourneyDriver, accepted: bool) -> None:
    journey.do(
        cmd.RecordReconsent(
            actor=INVESTIGATOR,
            protocol_version="1.1",
            accepted=accepted,
            answered_on=journey.today,
            consent_form_version="ICF v1.1",
        )
    )


def test_a_reconsented_patient_moves_onto_1_1_and_gets_its_calendar() -> None:
    journey = JourneyDriver("TF-1103")
    journey.to_follow_up()
    assert journey.state.infusion is not None
    day_zero = journey.state.infusion.day_zero
    assert find_item(journey.state, journey.protocol, MRD2_CODE) is None
    _reconsent(journey, accepted=True)
    assert journey.types()[-1] == "reconsent_recorded"
    assert journey.state.protocol_version == "1.0" and journey.state.pending_protocol_version == "1.1"
    # The workflow issues the move once nothing is in flight; the decider records it.
    journey.do(cmd.MoveToProtocolVersion(actor=SYSTEM_ACTOR, protocol_version="1.1"))
    assert journey.state.protocol_version == "1.1" and journey.state.pending_protocol_version is None
    changed = journey.events[-1]
    assert changed.type == "protocol_version_changed" and changed.protocol_version == "1.0"
    [note] = notifications_for(changed)
    assert (note.role, note.subject) == (Role.RESEARCH_COORDINATOR, "TF-1103: now follows protocol 1.1")
    assert "re-consent" in note.body
    status = patient_status(journey.state, PROTOCOL_V1_1, journey.now)
    visits = {v.code: v for v in status.visits}
    assert visits[MRD2_CODE].target_date == day_zero + timedelta(days=60)
    assert visits[MRD2_CODE].window_closes - visits[MRD2_CODE].window_opens == timedelta(days=14)
    assert visits["M3"].window_closes - visits["M3"].window_opens == timedelta(days=28)
    assert protocol_in_effect  # the journey follows 1.1 from here: its later entries say so
    journey.move_to(day_zero + timedelta(days=28), hour=10)
    journey.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(journey.today)))
    journey.move_to(day_zero + timedelta(days=60), hour=10)
    journey.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(journey.today)))
    assert journey.state.item(MRD2_CODE).done_on == journey.today
    assert journey.events[-1].protocol_version == "1.1"


def test_a_decliner_stays_on_1_0() -> None:
    journey = JourneyDriver("TF-1104")
    journey.to_follow_up()
    _reconsent(journey, accepted=False)
    assert journey.state.protocol_version == "1.0" and journey.state.declined_protocol_versions == ("1.1",)
    move = cmd.MoveToProtocolVersion(actor=SYSTEM_ACTOR, protocol_version="1.1")
    assert journey.refused(move, sign=False) == ("TF-1104 has not re-consented to protocol 1.1",)
    status = patient_status(journey.state, PROTOCOL_V1, journey.now)
    visits = {v.code: v for v in status.visits}
    assert MRD2_CODE not in visits
    assert visits["M3"].window_closes - visits["M3"].window_opens == timedelta(days=14)
    assert (
        "already declined"
        in journey.refused(
            cmd.RecordReconsent(
                actor=INVESTIGATOR,
                protocol_version="1.1",
                accepted=True,
                answered_on=journey.today,
                consent_form_version="v",
            )
        )[0]
    )


def test_a_reconsent_is_signed_and_names_a_known_newer_version() -> None:
    journey = JourneyDriver("TF-1105")
    journey.to_follow_up()
    unsigned = cmd.RecordReconsent(
        actor=INVESTIGATOR, protocol_version="1.1", accepted=True, answered_on=journey.today, consent_form_version="v"
    )
    assert any("electronically signed" in r for r in journey.refused(unsigned, sign=False))
    reasons = journey.refused(unsigned.model_copy(update={"protocol_version": "1.0"}))
    assert reasons == ("TF-1105 already follows protocol 1.0: 1.0 is no amendment",)
    reasons = journey.refused(unsigned.model_copy(update={"protocol_version": "7.0"}))
    assert reasons == ("unknown protocol version '7.0'; known: 1.0, 1.1",)


def test_a_screen_failure_screened_again_under_1_1_follows_it() -> None:
    journey = JourneyDriver("TF-1106")
    journey.enroll(prior_car_t=True)
    assert journey.state.protocol_version == "1.0" and journey.types()[-1] == "screen_failed"
    again = cmd.EnrollPatient(actor=COORDINATOR, study_id="TF-1106", screening=screening(screening_date=journey.today))
    # Under 1.1 (in effect for the new screening) the new value is required, then the patient follows 1.1.
    journey.protocol = PROTOCOL_V1_1
    assert journey.refused(again) == (
        'screening.blinatumomab_or_inotuzumab_last_given is required (the date last given, or "never")',
    )
    journey.do(again.model_copy(update={"screening": screening(blinatumomab_or_inotuzumab_last_given="never")}))
    assert journey.state.protocol_version == "1.1" and journey.state.screening_attempt == 2
    assert journey.events[-1].protocol_version == "1.1"


def test_a_screening_is_corrected_under_the_version_it_was_screened_under() -> None:
    moved = JourneyDriver("TF-1107")
    moved.to_consent()
    moved.do(
        cmd.RecordReconsent(
            actor=INVESTIGATOR, protocol_version="1.1", accepted=True, answered_on=moved.today, consent_form_version="v"
        )
    )
    moved.do(cmd.MoveToProtocolVersion(actor=SYSTEM_ACTOR, protocol_version="1.1"))
    assert moved.state.protocol_version == "1.1" and moved.state.screened_under == "1.0"
    first = next(e.sequence for e in moved.events if e.type == "patient_enrolled")
    correction = cmd.CorrectScreening(
        actor=COORDINATOR,
        screening=screening(blinatumomab_or_inotuzumab_last_given=date(2025, 12, 30), weight_kg=22.5),
        correction=cmd.Correction(supersedes_sequence=first, reason="weight misread"),
    )
    # A state carried from a run before `screened_under` was kept has none: its screening was under 1.0.
    carried = moved.state.model_copy(update={"screened_under": ""})
    moved.do(correction)  # 1.0's criteria: the recent dose is no exclusion, and the value is not required
    assert moved.state.eligibility is not None and moved.state.eligibility.eligible
    moved.state = carried
    moved.do(correction)
    assert moved.state.eligibility is not None and moved.state.eligibility.eligible
    under_1_1 = JourneyDriver("TF-1108", PROTOCOL_V1_1)
    under_1_1.enroll(blinatumomab_or_inotuzumab_last_given="never")
    first = next(e.sequence for e in under_1_1.events if e.type == "patient_enrolled")
    reasons = under_1_1.refused(
        cmd.CorrectScreening(
            actor=COORDINATOR,
            screening=screening(weight_kg=22.5),
            correction=cmd.Correction(supersedes_sequence=first, reason="weight misread"),
        )
    )
    assert 'screening.blinatumomab_or_inotuzumab_last_given is required (the date last given, or "never")' in reasons
