"""Finding 8: daily CRS and ICANS assessments from the infusion day to the protocol's last monitoring day are due
items, reminded, and recorded missed when a site day ends without them; one workflow wake a site day."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.amendment import amend
from domain.journey import commands as cmd
from domain.journey.notifications import Topic, notifications_for
from domain.journey.timers import pending_timers
from domain.journey.views import due_items, patient_status
from domain.protocol import PROTOCOL_V1
from domain.roles import Role
from tests.domain.journey_driver import NURSE, JourneyDriver, crs_findings, icans_findings

UNTIL = PROTOCOL_V1.safety.daily_toxicity_assessment_until_day


def _infused(study_id: str, **kwargs: object) -> JourneyDriver:
    journey = JourneyDriver(study_id, **kwargs)  # type: ignore[arg-type]
    journey.to_follow_up()
    journey.run_timers_until(journey.now)  # the infusion day's check, due since the day began
    return journey


def _assess(journey: JourneyDriver, *which: str) -> None:
    for kind in which:
        if kind == "crs":
            journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings()))
        else:
            journey.do(cmd.AssessIcans(actor=NURSE, assessed_at=journey.now, findings=icans_findings()))


def _types(journey: JourneyDriver, prefix: str) -> list[tuple[str, int, tuple[str, ...]]]:
    found = []
    for e in journey.events:
        p = e.payload
        if e.type.startswith(prefix):
            what = getattr(p, "assessments", None) or (getattr(p, "assessment", ""),)
            found.append((e.type, p.day_number, tuple(what)))  # type: ignore[union-attr]
    return found


def test_the_infusion_day_is_the_first_monitoring_day_and_both_assessments_are_due() -> None:
    journey = _infused("TF-1610")
    day_zero = journey.today
    types = [e.type for e in journey.events]
    assert types[-1] == "daily_assessments_due" and "daily_monitoring_started" in types
    due = {i.code: i for i in due_items(journey.state, journey.protocol, journey.now)}
    assert {"CRS-D0", "ICANS-D0"} <= set(due)
    assert due["CRS-D0"].due_on == day_zero and not due["CRS-D0"].overdue
    assert due["CRS-D0"].responsible is Role.NURSE
    reminder = notifications_for(journey.events[-1])
    assert [n.role for n in reminder] == [Role.NURSE]
    assert reminder[0].topic is Topic.DAILY_ASSESSMENTS_DUE
    assert reminder[0].body == f"Day 0 ({day_zero.isoformat()}): assess and record CRS, ICANS today."


def test_a_day_assessed_a_day_missed_and_the_reminders() -> None:
    journey = _infused("TF-1611")
    day_zero = journey.today
    _assess(journey, "crs", "icans")  # day 0: both
    journey.move_to(day_zero + timedelta(days=1), hour=10)
    _assess(journey, "crs")  # day 1: CRS only
    journey.move_to(day_zero + timedelta(days=2), hour=9)

    assert _types(journey, "daily_assessment") == [
        ("daily_assessments_due", 0, ("crs", "icans")),
        ("daily_assessments_due", 1, ("crs", "icans")),
        ("daily_assessment_missed", 1, ("icans",)),
        ("daily_assessments_due", 2, ("crs", "icans")),
    ]
    missed = next(e for e in journey.events if e.type == "daily_assessment_missed")
    assert missed.actor.role is Role.SYSTEM
    assert missed.occurred_at == journey.at_site(day_zero + timedelta(days=2), hour=0)  # the end of day 1
    notes = notifications_for(missed)
    assert [n.role for n in notes] == [Role.NURSE, Role.INVESTIGATOR]
    assert notes[0].body.startswith(f"The ICANS assessment of day 1 ({(day_zero + timedelta(days=1)).isoformat()})")

    status = patient_status(journey.state, journey.protocol, journey.now)
    late = {i.code: i for i in status.due}
    assert late["ICANS-D1"].overdue and "missed" in late["ICANS-D1"].what
    assert "CRS-D1" not in late and "CRS-D0" not in late
    assert status.overdue
    days = {d.day_number: d for d in status.daily_monitoring}
    assert (days[0].crs, days[0].icans) == ("done", "done")
    assert (days[1].crs, days[1].icans) == ("done", "missed")
    assert (days[2].crs, days[2].icans) == ("due", "due")
    assert (days[3].crs, days[3].icans) == ("upcoming", "upcoming")

    _assess(journey, "icans")  # monitoring resumed: the missed day stays missed, no longer outstanding
    after = {i.code for i in due_items(journey.state, journey.protocol, journey.now)}
    assert "ICANS-D1" not in after and "ICANS-D2" not in after
    assert patient_status(journey.state, journey.protocol, journey.now).daily_monitoring[1].icans == "missed"


def test_one_wake_a_site_day_and_none_after_the_last_monitoring_day() -> None:
    journey = _infused("TF-1612")
    day_zero = journey.today
    checks = [t for t in pending_timers(journey.state, journey.protocol) if t.command.kind == "check_daily_monitoring"]
    assert len(checks) == 1  # one timer for the day, for both assessments
    assert checks[0].due_at == journey.at_site(day_zero + timedelta(days=1), hour=0)
    journey.move_to(day_zero + timedelta(days=UNTIL + 3))
    missed = [e for e in journey.events if e.type == "daily_assessment_missed"]
    assert len(missed) == 2 * (UNTIL + 1)  # nothing was assessed: both, every day from 0 to the last
    assert max(e.payload.day_number for e in missed) == UNTIL  # type: ignore[union-attr]
    dues = [e for e in journey.events if e.type == "daily_assessments_due"]
    assert [e.payload.day_number for e in dues] == list(range(UNTIL + 1))  # type: ignore[union-attr]
    assert not any(t.command.kind == "check_daily_monitoring" for t in pending_timers(journey.state, journey.protocol))
    assert not [i for i in due_items(journey.state, journey.protocol, journey.now) if "-D" in i.code]


def test_the_last_monitoring_day_and_the_infusion_message_come_from_the_protocol() -> None:
    amended = amend(PROTOCOL_V1, "1.1", safety={"daily_toxicity_assessment_until_day": 3})
    journey = _infused("TF-1613", protocol=amended)
    infused = next(e for e in journey.events if e.type == "cells_infused")
    [nurse, _] = notifications_for(infused, tuple(journey.events))
    assert nurse.body.endswith("assess CRS and ICANS at least daily to day 3.")
    journey.move_to(journey.today + timedelta(days=10))
    dues = [e.payload.day_number for e in journey.events if e.type == "daily_assessments_due"]  # type: ignore[union-attr]
    assert dues == [0, 1, 2, 3]


def test_a_journey_infused_before_daily_monitoring_keeps_no_daily_items() -> None:
    from domain.journey import decide, fold

    journey = JourneyDriver("TF-1614")
    journey.to_infusion()
    completed = journey.state.lymphodepletion_completed
    assert completed is not None
    journey.move_to(completed.last_dose_on + timedelta(days=2))
    journey.thaw()
    infusion = journey.infusion_command()
    from simulation.journey_steps import signed

    events = decide(journey.state, signed(infusion, journey.now), journey.now, journey.protocol, daily_monitoring=False)
    assert [e.type for e in events] == ["cells_infused"]
    state = fold(journey.state, events)
    assert not any(t.command.kind == "check_daily_monitoring" for t in pending_timers(state, journey.protocol))
    assert not [i for i in due_items(state, journey.protocol, journey.now) if "-D" in i.code]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from([(), ("crs",), ("icans",), ("crs", "icans")]), min_size=UNTIL + 1, max_size=UNTIL + 1),
    st.integers(min_value=10, max_value=23),
)
def test_exactly_the_days_without_an_assessment_are_missed(assessed: list[tuple[str, ...]], hour: int) -> None:
    journey = _infused("TF-1615")
    day_zero = journey.today
    for day_number, which in enumerate(assessed):
        journey.move_to(day_zero + timedelta(days=day_number), hour=hour)
        _assess(journey, *which)
    journey.move_to(day_zero + timedelta(days=UNTIL + 2))
    missed = {
        (e.payload.assessment, e.payload.day_number) for e in journey.events if e.type == "daily_assessment_missed"
    }  # type: ignore[union-attr]
    expected = {(a, d) for d, which in enumerate(assessed) for a in ("crs", "icans") if a not in which}
    assert missed == expected
    status = patient_status(journey.state, journey.protocol, journey.now)
    shown = {(a, d.day_number) for d in status.daily_monitoring for a in ("crs", "icans") if getattr(d, a) == "missed"}
    assert shown == expected
