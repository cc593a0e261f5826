"""Daily CRS and ICANS monitoring: from the infusion day (day 0) to the protocol's last monitoring day, one
assessment of each is due each site day. One check at the start of each site day records the day before's missing
assessments as missed and reminds the day's: the workflow wakes once a day for both, never once per item."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from domain.journey.events import DailyAssessment
from domain.journey.state import JourneyState
from domain.journey.status_view import DayStatus
from domain.protocol import TrialProtocol
from domain.site_time import site_date, site_moment

DAILY_ASSESSMENTS: tuple[DailyAssessment, ...] = ("crs", "icans")
ASSESSMENT_WORDS: dict[DailyAssessment, str] = {"crs": "CRS", "icans": "ICANS"}


def daily_code(assessment: DailyAssessment, day_number: int) -> str:
    """The due item's code: CRS-D3, ICANS-D3."""
    return f"{ASSESSMENT_WORDS[assessment]}-D{day_number}"


def is_daily_code(code: str) -> bool:
    return any(code.startswith(f"{words}-D") for words in ASSESSMENT_WORDS.values())


def monitoring_days(state: JourneyState) -> range:
    """The day numbers of daily monitoring; none before infusion or for a journey infused before it was tracked."""
    if state.infusion is None or state.daily_monitoring_until_day is None:
        return range(0)
    return range(state.daily_monitoring_until_day + 1)


def monitoring_date(state: JourneyState, day_number: int) -> date:
    assert state.infusion is not None
    return state.infusion.day_zero + timedelta(days=day_number)


def assessed_dates(state: JourneyState, assessment: DailyAssessment, protocol: TrialProtocol) -> frozenset[date]:
    """The site days with a current (not superseded) assessment of this kind."""
    graded = state.crs if assessment == "crs" else state.icans
    rules = protocol.schedule
    return frozenset(site_date(a.assessed_at, rules) for a in graded if a.superseded_by is None)


def unassessed(state: JourneyState, protocol: TrialProtocol, day_number: int) -> tuple[DailyAssessment, ...]:
    """The assessments with no entry on that monitoring day."""
    day = monitoring_date(state, day_number)
    return tuple(a for a in DAILY_ASSESSMENTS if day not in assessed_dates(state, a, protocol))


def recorded_missed(state: JourneyState, assessment: DailyAssessment, day_number: int) -> bool:
    return any(m.assessment == assessment and m.day_number == day_number for m in state.daily_missed)


def next_check_day(state: JourneyState, protocol: TrialProtocol) -> int | None:
    """The day whose start the next check is due at; None when monitoring is over (or was never tracked). The day
    after the last is checked only if the last day has an assessment to record missed."""
    days = monitoring_days(state)
    if state.is_final or not days:
        return None
    day = state.daily_checked_day + 1
    if day in days:
        return day
    if day == days[-1] + 1 and unassessed(state, protocol, days[-1]):
        return day
    return None


def check_due_at(state: JourneyState, day_number: int, protocol: TrialProtocol) -> datetime:
    """The start of that site day."""
    return site_moment(monitoring_date(state, day_number), 0, protocol.schedule)


def day_status(
    state: JourneyState, protocol: TrialProtocol, assessment: DailyAssessment, day_number: int, today: date
) -> DayStatus:
    day = monitoring_date(state, day_number)
    if day in assessed_dates(state, assessment, protocol):
        return "done"
    if recorded_missed(state, assessment, day_number):
        return "missed"
    if day > today:
        return "upcoming"
    return "due" if day == today else "late"  # late: its day is over, not yet recorded missed


def outstanding_missed(state: JourneyState, protocol: TrialProtocol, today: date) -> list[tuple[DailyAssessment, int]]:
    """Missed assessments staff still see as overdue: until an assessment of the same kind is recorded on a later
    day (monitoring resumed), and while daily monitoring lasts."""
    days = monitoring_days(state)
    if not days or today > monitoring_date(state, days[-1]):
        return []
    found = []
    for missed in state.daily_missed:
        later = [d for d in assessed_dates(state, missed.assessment, protocol) if d > missed.on]
        if not later and missed.on not in assessed_dates(state, missed.assessment, protocol):
            found.append((missed.assessment, missed.day_number))
    return found
