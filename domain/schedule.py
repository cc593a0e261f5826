"""The visit calendar after infusion (day 0): target dates, windows, reminders and the status of each visit.

Day visits count days, month and year visits calendar ones; a missing day falls on the month's last day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from dateutil.relativedelta import relativedelta

from domain.protocol import FrozenModel, ScheduleRules, VisitSeries

MRD_EVALUATION_CODE = "MRD"
MRD_EVALUATION_SERIES = "MRD evaluation"
SECOND_MRD_EVALUATION_CODE = "MRD2"  # amendment 1.1's day-60 marrow MRD assessment
CHEMOTHERAPY_RESUMPTION_CODE = "CHEMO"
CHEMOTHERAPY_RESUMPTION_SERIES = "chemotherapy resumption"


_CODE_LETTER = {"day": "D", "month": "M", "year": "Y"}
# calendar_problems is exact up to this span (see _representative_infusion_dates); no trial follows longer.
_LONGEST_CHECKED_FOLLOW_UP_YEARS = 70
_MONTHS_PER_YEAR = 12


class VisitStatus(StrEnum):
    NOT_YET_OPEN = "not_yet_open"
    OPEN = "open"
    CLOSING_SOON = "closing_soon"
    MISSED = "missed"
    DONE_IN_WINDOW = "done_in_window"
    DONE_OUT_OF_WINDOW = "done_out_of_window"


class ScheduledVisit(FrozenModel):
    """One visit or assessment on a patient's calendar; every date is inclusive."""

    code: str  # stable id: "D7", "M9", "Y6", "MRD", "CHEMO"
    label: str  # "day 7", "month 9", "MRD evaluation (day 28)"
    series: str  # the VisitSeries name, or "MRD evaluation" / "chemotherapy resumption"
    target_date: date
    window_opens: date
    window_closes: date
    remind_on: date
    closing_soon_from: date


class _Planned(NamedTuple):
    """A follow-up visit before it becomes a model: the cheap form the amendment check iterates over."""

    code: str
    label: str
    series: VisitSeries
    target_date: date
    window_days: int  # the series' window, or the visit's own (ScheduleRules.visit_windows)

    @property
    def window_opens(self) -> date:
        return self.target_date - timedelta(days=self.window_days)

    @property
    def window_closes(self) -> date:
        return self.target_date + timedelta(days=self.window_days)


def add_months(start: date, months: int) -> date:
    """`start` plus calendar months; a day the target month lacks becomes that month's last day."""
    return start + relativedelta(months=months)


def _visit(
    *,
    code: str,
    label: str,
    series: str,
    target_date: date,
    window_days: int,
    remind_before_open_days: int,
    closing_soon_days: int,
) -> ScheduledVisit:
    opens = target_date - timedelta(days=window_days)
    closes = target_date + timedelta(days=window_days)
    return ScheduledVisit(
        code=code,
        label=label,
        series=series,
        target_date=target_date,
        window_opens=opens,
        window_closes=closes,
        remind_on=opens - timedelta(days=remind_before_open_days),
        closing_soon_from=closes - timedelta(days=closing_soon_days),
    )


def _target_date(infusion_date: date, series: VisitSeries, offset: int) -> date:
    if series.unit == "day":
        return infusion_date + timedelta(days=offset)
    if series.unit == "month":
        return add_months(infusion_date, offset)
    return add_months(infusion_date, offset * _MONTHS_PER_YEAR)


def _planned_follow_up(infusion_date: date, rules: ScheduleRules) -> list[_Planned]:
    """Every follow-up visit sorted by target date; a date two series share stays with the earlier series."""
    by_date: dict[date, _Planned] = {}
    own_windows = {w.code: w.window_days for w in rules.visit_windows}
    for series in rules.follow_up_series:
        for offset in series.offsets:
            target = _target_date(infusion_date, series, offset)
            code = f"{_CODE_LETTER[series.unit]}{offset}"
            if target not in by_date:
                by_date[target] = _Planned(
                    code=code,
                    label=f"{series.unit} {offset}",
                    series=series,
                    target_date=target,
                    window_days=own_windows.get(code, series.window_days),
                )
    return [by_date[day] for day in sorted(by_date)]


# A journey asks for its calendar at every step and every timer (it is pure, and its values frozen): compute it once
# per infusion date; 256 calendars take a few MB at most.
@lru_cache(maxsize=256)
def follow_up_calendar(infusion_date: date, rules: ScheduleRules) -> tuple[ScheduledVisit, ...]:
    """Every follow-up visit to the end of long-term follow-up, sorted by target date.

    When two series give the same target date (month 6 by default) the earlier series keeps it: counted once.
    """
    return tuple(
        _visit(
            code=p.code,
            label=p.label,
            series=p.series.name,
            target_date=p.target_date,
            window_days=p.window_days,
            remind_before_open_days=p.series.remind_before_open_days,
            closing_soon_days=p.series.closing_soon_days,
        )
        for p in _planned_follow_up(infusion_date, rules)
    )


def mrd_evaluation_visit(infusion_date: date, rules: ScheduleRules) -> ScheduledVisit:
    """The bone-marrow MRD evaluation. Its window may overlap a follow-up visit's: it is an assessment."""
    return _visit(
        code=MRD_EVALUATION_CODE,
        label=f"MRD evaluation (day {rules.mrd_evaluation_day})",
        series=MRD_EVALUATION_SERIES,
        target_date=infusion_date + timedelta(days=rules.mrd_evaluation_day),
        window_days=rules.mrd_evaluation_window_days,
        remind_before_open_days=rules.mrd_evaluation_remind_before_open_days,
        closing_soon_days=rules.mrd_evaluation_closing_soon_days,
    )


def second_mrd_evaluation_visit(infusion_date: date, rules: ScheduleRules) -> ScheduledVisit | None:
    """Amendment 1.1's second marrow MRD assessment (day 60), reminded and closing as the first; None without it."""
    day = rules.second_mrd_evaluation_day
    if day is None:
        return None
    return _visit(
        code=SECOND_MRD_EVALUATION_CODE,
        label=f"MRD evaluation (day {day})",
        series=MRD_EVALUATION_SERIES,
        target_date=infusion_date + timedelta(days=day),
        window_days=rules.second_mrd_evaluation_window_days,
        remind_before_open_days=rules.mrd_evaluation_remind_before_open_days,
        closing_soon_days=rules.mrd_evaluation_closing_soon_days,
    )


def chemotherapy_resumption_visit(infusion_date: date, rules: ScheduleRules) -> ScheduledVisit:
    """Resumption of the CCCG-ALL regimen, calendar months after infusion."""
    months = rules.chemotherapy_resumption_months
    return _visit(
        code=CHEMOTHERAPY_RESUMPTION_CODE,
        label=f"chemotherapy resumption (month {months})",
        series=CHEMOTHERAPY_RESUMPTION_SERIES,
        target_date=add_months(infusion_date, months),
        window_days=rules.chemotherapy_resumption_window_days,
        remind_before_open_days=rules.chemotherapy_resumption_remind_before_open_days,
        closing_soon_days=rules.chemotherapy_resumption_closing_soon_days,
    )


def efficacy_follow_up_end(infusion_date: date, rules: ScheduleRules) -> date:
    """The last day of efficacy follow-up; long-term (survival, vector safety) follow-up goes on after it."""
    return add_months(infusion_date, rules.follow_up_years * _MONTHS_PER_YEAR)


def is_within_window(visit: ScheduledVisit, day: date) -> bool:
    return visit.window_opens <= day <= visit.window_closes


def visit_status(visit: ScheduledVisit, on: date, done_on: date | None = None) -> VisitStatus:
    """The visit's status on site date `on`. A visit done outside its window is a deviation, still done."""
    if done_on is not None:
        return VisitStatus.DONE_IN_WINDOW if is_within_window(visit, done_on) else VisitStatus.DONE_OUT_OF_WINDOW
    if on < visit.window_opens:
        return VisitStatus.NOT_YET_OPEN
    if on > visit.window_closes:
        return VisitStatus.MISSED
    if on >= visit.closing_soon_from:
        return VisitStatus.CLOSING_SOON
    return VisitStatus.OPEN


def find_visit(calendar: Sequence[ScheduledVisit], code: str) -> ScheduledVisit:
    for visit in calendar:
        if visit.code == code:
            return visit
    known = ", ".join(v.code for v in calendar) or "none"
    raise ValueError(f"there is no visit {code!r} on this calendar; the visits are: {known}")


# ---------------------------------------------------------------- checking a protocol amendment


def calendar_problems(rules: ScheduleRules) -> list[str]:
    """Why a schedule (as amended) cannot be run safely, in words a protocol reviewer understands; [] if none.

    [] means no infusion date, whatever its month lengths and leap years, gives two follow-up windows sharing a day.
    """
    return list(_calendar_problems(rules))


@lru_cache(maxsize=16)
def _calendar_problems(rules: ScheduleRules) -> tuple[str, ...]:
    problems = [*_series_problems(rules), *_assessment_problems(rules)]
    if problems:
        return tuple(problems)  # the dates below would not mean anything yet
    return tuple(_window_problems(rules))


def _series_problems(rules: ScheduleRules) -> list[str]:
    problems: list[str] = []
    if not rules.follow_up_series:
        problems.append("the schedule has no follow-up visits")
    names = [s.name for s in rules.follow_up_series]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"two follow-up series are both called {name!r}")
    for name in (MRD_EVALUATION_SERIES, CHEMOTHERAPY_RESUMPTION_SERIES):
        if name in names:
            problems.append(f"the name {name!r} is kept for the assessment of that name")
    for s in rules.follow_up_series:
        if not s.offsets:
            problems.append(f"the series {s.name!r} lists no visits")
        if any(later <= earlier for earlier, later in zip(s.offsets, s.offsets[1:], strict=False)):
            problems.append(f"the visits of {s.name!r} must be listed in increasing order")
        if any(offset <= 0 for offset in s.offsets):
            problems.append(f"every visit of {s.name!r} must come after the infusion day (day 0)")
        if s.offsets and _months_spanned(s, max(s.offsets)) > _LONGEST_CHECKED_FOLLOW_UP_YEARS * _MONTHS_PER_YEAR:
            problems.append(
                f"the last visit of {s.name!r} is more than {_LONGEST_CHECKED_FOLLOW_UP_YEARS} years after the infusion"
            )
        if s.window_days < 0:
            problems.append(f"the window of {s.name!r} cannot be negative ({s.window_days} days)")
        if s.remind_before_open_days < 0:
            problems.append(f"the reminder of {s.name!r} cannot come after its window opens")
        if not 0 <= s.closing_soon_days <= 2 * s.window_days:
            problems.append(
                f"'closing soon' for {s.name!r} must start inside the window "
                f"(0 to {2 * max(s.window_days, 0)} days before it closes, not {s.closing_soon_days})"
            )
    return problems


def _assessment_problems(rules: ScheduleRules) -> list[str]:
    problems: list[str] = []
    if rules.mrd_evaluation_day <= 0:
        problems.append("the MRD evaluation must come after the infusion (day 0)")
    if rules.mrd_evaluation_window_days < 0:
        problems.append("the MRD evaluation window cannot be negative")
    elif rules.mrd_evaluation_day - rules.mrd_evaluation_window_days < 0:
        problems.append("the MRD evaluation window would open before the infusion")
    second = rules.second_mrd_evaluation_day
    first_closes = rules.mrd_evaluation_day + rules.mrd_evaluation_window_days
    if second is not None and second - rules.second_mrd_evaluation_window_days <= first_closes:
        problems.append("the second MRD evaluation's window must open after the first one's closes")
    listed = {f"{_CODE_LETTER[s.unit]}{offset}" for s in rules.follow_up_series for offset in s.offsets}
    for window in rules.visit_windows:
        if window.code not in listed:
            problems.append(f"a window is given for {window.code!r}, which is not a follow-up visit")
    if rules.chemotherapy_resumption_months <= 0:
        problems.append("chemotherapy resumes at least one month after the infusion")
    if rules.chemotherapy_resumption_window_days < 0:
        problems.append("the chemotherapy resumption window cannot be negative")
    if rules.follow_up_years <= 0:
        problems.append("efficacy follow-up must last at least one year")
    return problems


def _representative_infusion_dates(rules: ScheduleRules) -> list[date]:
    """Infusion dates meeting every pattern of month lengths and leap years the calendar can meet."""
    # Differences between target dates depend only on the month, on whether the day is clamped (29, 30, 31; any day
    # up to 28 behaves like the 1st) and on the leap years crossed. Four near years give the four-year cycle at every
    # phase (and examples a reader recognises); the years before the non-leap 2100 give its skipped leap day at every
    # position (exact for follow-up up to 70 years).
    longest_months = max((_months_spanned(s, max(s.offsets)) for s in rules.follow_up_series if s.offsets), default=0)
    span_years = longest_months // _MONTHS_PER_YEAR + 1
    dates: list[date] = []
    for year in [*range(2024, 2028), *range(2100 - span_years - 1, 2101)]:
        for month in range(1, _MONTHS_PER_YEAR + 1):
            for day in (1, 29, 30, 31):
                if _is_date(year, month, day):
                    dates.append(date(year, month, day))
    return dates


def _months_spanned(series: VisitSeries, offset: int) -> int:
    if series.unit == "day":
        return offset // 28 + 1
    if series.unit == "month":
        return offset
    return offset * _MONTHS_PER_YEAR


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _window_problems(rules: ScheduleRules) -> list[str]:
    problems: dict[tuple[str, str], str] = {}
    for infusion in _representative_infusion_dates(rules):
        calendar = _planned_follow_up(infusion, rules)
        latest_close = date.min
        for later_index, later in enumerate(calendar):
            if later.window_opens < infusion and (later.code, "") not in problems:
                problems[(later.code, "")] = (
                    f"the window of {later.label} (± {later.window_days} days) would open before "
                    f"the infusion, e.g. for an infusion on {infusion.isoformat()}"
                )
            overlaps_some_earlier = later.window_opens <= latest_close
            latest_close = max(latest_close, later.window_closes)
            if not overlaps_some_earlier:
                continue
            for earlier in calendar[:later_index]:
                pair = (earlier.code, later.code)
                if earlier.window_closes >= later.window_opens and pair not in problems:
                    problems[pair] = (
                        f"the windows of {earlier.label} (± {earlier.window_days} days) and "
                        f"{later.label} (± {later.window_days} days) overlap, e.g. for an infusion "
                        f"on {infusion.isoformat()}: {earlier.label} closes "
                        f"{earlier.window_closes.isoformat()}, {later.label} opens "
                        f"{later.window_opens.isoformat()}"
                    )
    # In the order the protocol lists its visits, so a reviewer reads them as the calendar runs.
    listed = [f"{_CODE_LETTER[s.unit]}{offset}" for s in rules.follow_up_series for offset in s.offsets]

    def calendar_order(pair: tuple[str, str]) -> tuple[int, int]:
        earlier, later = pair
        return listed.index(earlier), listed.index(later) if later else -1

    return [problems[pair] for pair in sorted(problems, key=calendar_order)]
