"""The visit calendar: protocol.md's worked examples, every window boundary, and amended schedules."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.protocol import PROTOCOL_V1, ScheduleRules, VisitSeries
from domain.schedule import (
    ScheduledVisit,
    VisitStatus,
    add_months,
    calendar_problems,
    chemotherapy_resumption_visit,
    efficacy_follow_up_end,
    find_visit,
    follow_up_calendar,
    is_within_window,
    mrd_evaluation_visit,
    visit_status,
)

RULES = PROTOCOL_V1.schedule
JAN_1 = date(2026, 1, 1)
S = VisitStatus


def calendar_on(infusion: date, rules: ScheduleRules = RULES) -> dict[str, ScheduledVisit]:
    return {v.code: v for v in follow_up_calendar(infusion, rules)}


def amended_schedule(**changes: Any) -> ScheduleRules:
    """Schedule rules as an amendment would write them, unchecked: `amend` itself refuses unsafe ones."""
    return ScheduleRules.model_validate({**RULES.model_dump(), **changes})


def amended_series(index: int, **changes: Any) -> ScheduleRules:
    """The default schedule with one follow-up series changed, through a protocol amendment."""
    series = [s.model_dump() for s in RULES.follow_up_series]
    series[index] = {**series[index], **changes}
    return amended_schedule(follow_up_series=series)


def overlapping_pairs(calendar: tuple[ScheduledVisit, ...]) -> list[tuple[str, str]]:
    return [
        (a.code, b.code)
        for i, a in enumerate(calendar)
        for b in calendar[i + 1 :]
        if a.window_opens <= b.window_closes and b.window_opens <= a.window_closes
    ]


# ---------------------------------------------------------------- protocol.md's worked examples


@pytest.mark.parametrize(
    ("code", "target"),
    [("D7", date(2026, 1, 8)), ("D30", date(2026, 1, 31)), ("M12", date(2027, 1, 1))],
)
def test_protocol_worked_example_infusion_on_1_january_2026(code: str, target: date) -> None:
    assert calendar_on(JAN_1)[code].target_date == target


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # protocol.md: month 1 is 28 February ...
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # ... or 29 February in a leap year
        (date(2026, 1, 30), 1, date(2026, 2, 28)),
        (date(2026, 1, 28), 1, date(2026, 2, 28)),  # the 28th exists: not moved
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),  # counted from infusion, not from the clamped month 1
        (date(2026, 5, 15), 0, date(2026, 5, 15)),
    ],
)
def test_calendar_months_fall_on_the_last_day_when_the_day_is_missing(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_an_infusion_on_31_january_puts_month_visits_on_each_months_last_day() -> None:
    visits = calendar_on(date(2026, 1, 31))
    assert visits["M2"].target_date == date(2026, 3, 31)
    assert visits["M3"].target_date == date(2026, 4, 30)
    assert visits["M9"].target_date == date(2026, 10, 31)
    assert chemotherapy_resumption_visit(date(2026, 1, 31), RULES).target_date == date(2026, 2, 28)
    assert chemotherapy_resumption_visit(date(2028, 1, 31), RULES).target_date == date(2028, 2, 29)


def test_year_visits_of_a_leap_day_infusion_fall_on_28_february() -> None:
    visits = calendar_on(date(2028, 2, 29))
    assert visits["Y3"].target_date == date(2031, 2, 28)
    assert visits["Y4"].target_date == date(2032, 2, 29)
    assert visits["Y6"].target_date == date(2034, 2, 28)


# ---------------------------------------------------------------- the calendar's shape


def test_the_calendar_has_every_visit_of_the_protocol_once() -> None:
    codes = [v.code for v in follow_up_calendar(JAN_1, RULES)]
    assert codes == [
        *("D7", "D14", "D21", "D30"),
        *("M2", "M3", "M4", "M5", "M6"),
        *("M9", "M12", "M15", "M18", "M21", "M24"),
        *("Y3", "Y4", "Y5"),
        *(f"Y{year}" for year in range(6, 16)),
    ]
    assert len(codes) == 4 + 5 + 6 + 3 + 10 == 28


def test_month_6_is_counted_once_and_keeps_the_monthly_window() -> None:
    month_6 = [v for v in follow_up_calendar(JAN_1, RULES) if v.code == "M6"]
    assert len(month_6) == 1
    assert month_6[0].series == "monthly"
    assert month_6[0].window_opens == date(2026, 6, 24)  # ± 7, not the 3-monthly ± 14
    assert month_6[0].window_closes == date(2026, 7, 8)


@pytest.mark.parametrize(
    ("code", "label", "series", "window_days"),
    [
        ("D7", "day 7", "first month", 1),
        ("D30", "day 30", "first month", 1),
        ("M2", "month 2", "monthly", 7),
        ("M9", "month 9", "every 3 months", 14),
        ("M24", "month 24", "every 3 months", 14),
        ("Y3", "year 3", "yearly", 30),
        ("Y5", "year 5", "yearly", 30),
        ("Y6", "year 6", "long-term follow-up", 60),
        ("Y15", "year 15", "long-term follow-up", 60),
    ],
)
def test_each_visit_has_its_protocol_window(code: str, label: str, series: str, window_days: int) -> None:
    visit = calendar_on(JAN_1)[code]
    assert (visit.label, visit.series) == (label, series)
    assert visit.window_opens == visit.target_date - timedelta(days=window_days)
    assert visit.window_closes == visit.target_date + timedelta(days=window_days)


@pytest.mark.parametrize(
    ("code", "remind_on", "closing_soon_from"),
    [
        ("D7", date(2026, 1, 5), date(2026, 1, 9)),  # opens 7 Jan, reminded 2 days before; closes 9 Jan
        ("M2", date(2026, 2, 15), date(2026, 3, 6)),  # opens 22 Feb, reminded 7 days before; closes 8 Mar
        ("Y6", date(2031, 10, 3), date(2032, 2, 16)),  # opens 2 Nov 2031, 30 days; closes 1 Mar 2032, 14 days
    ],
)
def test_reminders_come_before_the_window_opens_and_before_it_closes(
    code: str, remind_on: date, closing_soon_from: date
) -> None:
    visit = calendar_on(JAN_1)[code]
    assert (visit.remind_on, visit.closing_soon_from) == (remind_on, closing_soon_from)


def test_the_mrd_evaluation_is_day_28_plus_or_minus_3_and_may_overlap_day_30() -> None:
    mrd = mrd_evaluation_visit(JAN_1, RULES)
    assert (mrd.code, mrd.label, mrd.series) == ("MRD", "MRD evaluation (day 28)", "MRD evaluation")
    assert mrd.target_date == date(2026, 1, 29)
    assert (mrd.window_opens, mrd.window_closes) == (date(2026, 1, 26), date(2026, 2, 1))
    day_30 = calendar_on(JAN_1)["D30"]
    assert is_within_window(mrd, day_30.target_date)  # an assessment, not a follow-up visit: on purpose
    assert mrd.remind_on < mrd.window_opens <= mrd.closing_soon_from <= mrd.window_closes


def test_chemotherapy_resumes_one_calendar_month_after_infusion() -> None:
    chemo = chemotherapy_resumption_visit(JAN_1, RULES)
    assert (chemo.code, chemo.series) == ("CHEMO", "chemotherapy resumption")
    assert chemo.target_date == date(2026, 2, 1)
    assert (chemo.window_opens, chemo.window_closes) == (date(2026, 1, 25), date(2026, 2, 8))


@pytest.mark.parametrize(
    ("infusion", "end"),
    [(JAN_1, date(2031, 1, 1)), (date(2028, 2, 29), date(2033, 2, 28))],
)
def test_efficacy_follow_up_ends_five_years_after_infusion(infusion: date, end: date) -> None:
    assert efficacy_follow_up_end(infusion, RULES) == end


def test_find_visit_names_the_known_codes_when_the_code_is_unknown() -> None:
    calendar = follow_up_calendar(JAN_1, RULES)
    assert find_visit(calendar, "M9").target_date == date(2026, 10, 1)
    with pytest.raises(ValueError, match=r"no visit 'M7'.*D7, D14, D21, D30, M2") as raised:
        find_visit(calendar, "M7")
    assert "Y15" in str(raised.value)
    with pytest.raises(ValueError, match="no visit 'D7'"):
        find_visit((), "D7")


# ---------------------------------------------------------------- status on every boundary day


@pytest.mark.parametrize(
    ("code", "on", "expected"),
    [
        # day 7: window 7-9 January, "closing soon" only on its last day (0 days' notice)
        ("D7", date(2026, 1, 6), S.NOT_YET_OPEN),
        ("D7", date(2026, 1, 7), S.OPEN),
        ("D7", date(2026, 1, 8), S.OPEN),
        ("D7", date(2026, 1, 9), S.CLOSING_SOON),
        ("D7", date(2026, 1, 10), S.MISSED),
        # month 2: window 22 February - 8 March, closing soon from 6 March
        ("M2", date(2026, 2, 21), S.NOT_YET_OPEN),
        ("M2", date(2026, 2, 22), S.OPEN),
        ("M2", date(2026, 3, 5), S.OPEN),
        ("M2", date(2026, 3, 6), S.CLOSING_SOON),
        ("M2", date(2026, 3, 8), S.CLOSING_SOON),
        ("M2", date(2026, 3, 9), S.MISSED),
        # year 6: window 2 November 2031 - 1 March 2032 (leap year), closing soon from 16 February
        ("Y6", date(2031, 11, 1), S.NOT_YET_OPEN),
        ("Y6", date(2031, 11, 2), S.OPEN),
        ("Y6", date(2032, 2, 15), S.OPEN),
        ("Y6", date(2032, 2, 16), S.CLOSING_SOON),
        ("Y6", date(2032, 3, 1), S.CLOSING_SOON),
        ("Y6", date(2032, 3, 2), S.MISSED),
    ],
)
def test_status_of_a_visit_not_done_on_each_boundary_day(code: str, on: date, expected: VisitStatus) -> None:
    assert visit_status(calendar_on(JAN_1)[code], on) is expected


@pytest.mark.parametrize(
    ("code", "done_on", "expected"),
    [
        ("D7", date(2026, 1, 6), S.DONE_OUT_OF_WINDOW),
        ("D7", date(2026, 1, 7), S.DONE_IN_WINDOW),
        ("D7", date(2026, 1, 9), S.DONE_IN_WINDOW),
        ("D7", date(2026, 1, 10), S.DONE_OUT_OF_WINDOW),
        ("M9", date(2026, 9, 16), S.DONE_OUT_OF_WINDOW),
        ("M9", date(2026, 9, 17), S.DONE_IN_WINDOW),
        ("M9", date(2026, 10, 15), S.DONE_IN_WINDOW),
        ("M9", date(2026, 10, 16), S.DONE_OUT_OF_WINDOW),
    ],
)
def test_a_visit_done_outside_its_window_is_still_done_but_out_of_window(
    code: str, done_on: date, expected: VisitStatus
) -> None:
    visit = calendar_on(JAN_1)[code]
    assert is_within_window(visit, done_on) is (expected is S.DONE_IN_WINDOW)
    for on in (visit.window_opens - timedelta(days=400), done_on, visit.window_closes + timedelta(days=400)):
        assert visit_status(visit, on, done_on) is expected


# ---------------------------------------------------------------- amendments


def test_an_amended_schedule_moves_the_calendar() -> None:
    rules = amended_schedule(mrd_evaluation_day=21, mrd_evaluation_window_days=2, chemotherapy_resumption_months=2)
    assert mrd_evaluation_visit(JAN_1, rules).label == "MRD evaluation (day 21)"
    assert mrd_evaluation_visit(JAN_1, rules).window_opens == date(2026, 1, 20)
    assert chemotherapy_resumption_visit(JAN_1, rules).target_date == date(2026, 3, 1)
    longer = amended_series(4, offsets=list(range(6, 21)))
    assert follow_up_calendar(JAN_1, longer)[-1].code == "Y20"
    assert calendar_problems(longer) == []


def test_the_default_schedule_has_no_problems() -> None:
    assert calendar_problems(RULES) == []


def test_an_amendment_whose_windows_overlap_is_named_with_an_example_infusion_date() -> None:
    # Monthly visits ± 14: two windows meet only when the month between them is a 28-day February.
    assert calendar_problems(amended_series(1, window_days=13, closing_soon_days=2)) == []
    problems = calendar_problems(amended_series(1, window_days=14))
    assert [p.split(" overlap")[0] for p in problems] == [
        f"the windows of month {m} (± 14 days) and month {m + 1} (± 14 days)" for m in range(2, 6)
    ]
    for problem in problems:
        infusion = date.fromisoformat(re.findall(r"infusion on (\S+):", problem)[0])
        calendar = follow_up_calendar(infusion, amended_series(1, window_days=14))
        assert overlapping_pairs(calendar), problem  # the example really overlaps


def test_a_day_visit_window_opening_before_the_infusion_is_a_problem() -> None:
    assert not any("before the infusion" in p for p in calendar_problems(amended_series(0, window_days=7)))
    problems = calendar_problems(amended_series(0, window_days=8))  # day 7 - 8 is the day before infusion
    assert problems[0].startswith("the window of day 7 (± 8 days) would open before the infusion")
    assert any("day 7 (± 8 days) and day 14 (± 8 days) overlap" in p for p in problems)


def test_overlaps_that_only_happen_across_a_skipped_century_leap_day_are_found() -> None:
    # Day 1461 is year 4 itself (deduplicated) in every four years but those holding 2100, not a leap year:
    # there year 4 comes a day earlier and the day visit's window reaches it.
    series = [
        VisitSeries(name="days", unit="day", offsets=(1461,), window_days=1, remind_before_open_days=0,
                    closing_soon_days=0),
        VisitSeries(name="years", unit="year", offsets=(4,), window_days=0, remind_before_open_days=0,
                    closing_soon_days=0),
    ]  # fmt: skip
    rules = RULES.model_validate({**RULES.model_dump(), "follow_up_series": series})
    assert [v.code for v in follow_up_calendar(JAN_1, rules)] == ["D1461"]
    problems = calendar_problems(rules)
    assert len(problems) == 1
    assert "year 4 (± 0 days) and day 1461 (± 1 days) overlap" in problems[0]
    assert "infusion on 209" in problems[0] or "infusion on 2100" in problems[0]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"follow_up_series": []}, "the schedule has no follow-up visits"),
        ({"mrd_evaluation_window_days": 29}, "the MRD evaluation window would open before the infusion"),
        ({"mrd_evaluation_window_days": -1}, "the MRD evaluation window cannot be negative"),
        (
            {"mrd_evaluation_day": 0, "mrd_evaluation_window_days": 0},
            "the MRD evaluation must come after the infusion (day 0)",
        ),
        ({"chemotherapy_resumption_months": 0}, "chemotherapy resumes at least one month after the infusion"),
        (
            {"chemotherapy_resumption_window_days": -1},
            "the chemotherapy resumption window cannot be negative",
        ),
        ({"follow_up_years": 0}, "efficacy follow-up must last at least one year"),
    ],
)
def test_schedule_level_problems(changes: dict[str, Any], expected: str) -> None:
    assert expected in calendar_problems(amended_schedule(**changes))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"offsets": []}, "the series 'monthly' lists no visits"),
        ({"offsets": [2, 4, 3]}, "the visits of 'monthly' must be listed in increasing order"),
        ({"offsets": [0, 2]}, "every visit of 'monthly' must come after the infusion day (day 0)"),
        ({"window_days": -1, "closing_soon_days": 0}, "the window of 'monthly' cannot be negative (-1 days)"),
        ({"remind_before_open_days": -1}, "the reminder of 'monthly' cannot come after its window opens"),
        ({"closing_soon_days": 15}, "'closing soon' for 'monthly' must start inside the window"),
        ({"closing_soon_days": -1}, "'closing soon' for 'monthly' must start inside the window"),
        ({"name": "first month"}, "two follow-up series are both called 'first month'"),
        ({"offsets": [2, 841]}, "the last visit of 'monthly' is more than 70 years after the infusion"),
        ({"name": "MRD evaluation"}, "the name 'MRD evaluation' is kept for the assessment of that name"),
    ],
)
def test_series_problems(changes: dict[str, Any], expected: str) -> None:
    assert any(p.startswith(expected) for p in calendar_problems(amended_series(1, **changes)))


def test_closing_soon_may_cover_the_whole_window() -> None:
    assert calendar_problems(amended_series(1, closing_soon_days=14)) == []


# ---------------------------------------------------------------- properties

infusion_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@st.composite
def valid_schedules(draw: st.DrawFn) -> ScheduleRules:
    """Amended schedules that are safe by construction: every window narrower than half the shortest gap."""

    def series(name: str, unit: str, offsets: list[int], max_window: int) -> dict[str, Any]:
        window = draw(st.integers(0, max_window))
        return {
            "name": name,
            "unit": unit,
            "offsets": offsets,
            "window_days": window,
            "remind_before_open_days": draw(st.integers(0, 60)),
            "closing_soon_days": draw(st.integers(0, 2 * window)),
        }

    first_month = draw(st.integers(2, 5))
    last_quarter = draw(st.sampled_from([12, 15, 18, 21, 24]))
    last_year = draw(st.integers(6, 20))
    mrd_window = draw(st.integers(0, 7))
    return amended_schedule(
        follow_up_series=[
            series("first month", "day", [7, 14, 21, 30], 3),  # gaps of 7 days; 59 days to month 2
            series("monthly", "month", list(range(first_month, 7)), 13),  # a month is >= 28 days
            series("every 3 months", "month", list(range(6, last_quarter + 1, 3)), 44),  # >= 89 days
            series("yearly", "year", [3, 4, 5], 150),
            series("long-term follow-up", "year", list(range(6, last_year + 1)), 150),
        ],
        mrd_evaluation_day=draw(st.integers(max(mrd_window, 1), 42)),
        mrd_evaluation_window_days=mrd_window,
        chemotherapy_resumption_months=draw(st.integers(1, 3)),
        chemotherapy_resumption_window_days=draw(st.integers(0, 14)),
        follow_up_years=draw(st.integers(1, 5)),
    )


schedules = st.one_of(st.just(RULES), valid_schedules())


@given(infusion=infusion_dates, rules=schedules)
def test_calendar_is_sorted_unique_after_infusion_and_never_overlaps(infusion: date, rules: ScheduleRules) -> None:
    calendar = follow_up_calendar(infusion, rules)
    targets = [v.target_date for v in calendar]
    assert targets == sorted(targets)
    assert len({v.code for v in calendar}) == len(calendar)
    assert all(v.window_opens >= infusion and v.target_date > infusion for v in calendar)
    assert overlapping_pairs(calendar) == []
    listed = {f"{s.unit[0].upper()}{o}" for s in rules.follow_up_series for o in s.offsets}
    assert {v.code for v in calendar} == listed  # only same-date duplicates (month 6) are dropped
    for v in calendar:
        assert v.remind_on <= v.window_opens <= v.closing_soon_from <= v.window_closes
    for visit in (mrd_evaluation_visit(infusion, rules), chemotherapy_resumption_visit(infusion, rules)):
        assert infusion <= visit.window_opens <= visit.target_date <= visit.window_closes


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=valid_schedules())
def test_schedules_safe_by_construction_have_no_problems(rules: ScheduleRules) -> None:
    assert calendar_problems(rules) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    monthly_window=st.integers(10, 16),
    quarterly_window=st.integers(40, 50),
    infusions=st.lists(infusion_dates, min_size=1, max_size=20),
)
def test_an_overlap_on_any_infusion_date_is_reported(
    monthly_window: int, quarterly_window: int, infusions: list[date]
) -> None:
    monthly = RULES.follow_up_series[1].model_copy(update={"window_days": monthly_window})
    quarterly = RULES.follow_up_series[2].model_copy(update={"window_days": quarterly_window})
    series = list(RULES.follow_up_series)
    series[1:3] = [monthly, quarterly]
    rules = amended_schedule(follow_up_series=[s.model_dump() for s in series])
    problems = calendar_problems(rules)
    for infusion in infusions:
        for earlier, later in overlapping_pairs(follow_up_calendar(infusion, rules)):
            named = (f"the windows of {label_of(earlier)} (±", f" and {label_of(later)} (±")
            assert any(p.startswith(named[0]) and named[1] in p for p in problems), (earlier, later)


def label_of(code: str) -> str:
    return {"D": "day", "M": "month", "Y": "year"}[code[0]] + " " + code[1:]


_ORDER = [S.NOT_YET_OPEN, S.OPEN, S.CLOSING_SOON, S.MISSED]


@given(infusion=infusion_dates, rules=schedules, data=st.data())
def test_visit_status_never_goes_back(infusion: date, rules: ScheduleRules, data: st.DataObject) -> None:
    calendar = follow_up_calendar(infusion, rules)
    visit = data.draw(st.sampled_from([*calendar, mrd_evaluation_visit(infusion, rules)]))
    around = st.integers(-200, 200).map(lambda d: visit.target_date + timedelta(days=d))
    first, second = sorted([data.draw(around), data.draw(around)])
    assert _ORDER.index(visit_status(visit, first)) <= _ORDER.index(visit_status(visit, second))
    done_on = data.draw(around)
    assert visit_status(visit, first, done_on) is visit_status(visit, second, done_on)
    assert visit_status(visit, first, done_on) in (S.DONE_IN_WINDOW, S.DONE_OUT_OF_WINDOW)
