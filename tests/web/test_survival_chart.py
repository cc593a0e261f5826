"""The dashboard's survival curves: the Kaplan-Meier step function and its band placed on the drawing's axes, the
report's estimates read into the view model, and no drawing without a point."""

from __future__ import annotations

from types import SimpleNamespace

from web.survival_chart import (
    BOTTOM,
    EVENT_FREE_SURVIVAL,
    HEIGHT,
    LEFT,
    OVERALL_SURVIVAL,
    RIGHT,
    TOP,
    WIDTH,
    SurvivalPoint,
    SurvivalSeries,
    drawing,
    series_of_report,
)

CURVE = (
    SurvivalPoint(day=0, survival=1.0, ci_low=1.0, ci_high=1.0, at_risk=4),
    SurvivalPoint(day=30, survival=0.75, ci_low=0.5, ci_high=0.9, at_risk=3),
    SurvivalPoint(day=90, survival=0.5, ci_low=0.25, ci_high=0.8, at_risk=2),
)


def test_the_curve_steps_down_at_each_event_and_runs_to_the_last_day() -> None:
    drawn = drawing(SurvivalSeries(EVENT_FREE_SURVIVAL, patients=4, events=2, points=CURVE, median_days=90))
    assert drawn is not None
    # The plot spans x 48..544 (90 days) and y 12..220 (100 %..0 %): day 30 at x 213.3, 75 % at y 64, 50 % at 116.
    assert (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM) == (48, 544, 12, 220)
    # 100 % from day 0 to day 30, 75 % to day 90, 50 % at day 90 (the last day drawn: the plot's right edge).
    assert drawn.curve == "M48.0,12.0 L213.3,12.0 L213.3,64.0 L544.0,64.0 L544.0,116.0 L544.0,116.0"
    # The band: along the upper limits (100, 90, 80 %), back along the lower ones (25, 50, 100 %), closed.
    assert drawn.band == (
        "M48.0,12.0 L213.3,12.0 L213.3,32.8 L544.0,32.8 L544.0,53.6 L544.0,53.6 "
        "L544.0,168.0 L544.0,168.0 L544.0,116.0 L213.3,116.0 L213.3,12.0 L48.0,12.0 Z"
    )
    assert [label for _, label in drawn.survival_ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert [label for _, label in drawn.day_ticks] == ["0", "22", "44", "66", "88"]


def test_a_curve_without_a_point_is_not_drawn() -> None:
    assert drawing(SurvivalSeries(OVERALL_SURVIVAL, patients=0, events=0, points=(), median_days=None)) is None


def test_the_reports_event_free_and_overall_survival_are_read_into_series() -> None:
    def estimate(events: int) -> SimpleNamespace:
        return SimpleNamespace(patients=4, events=events, curve=CURVE, median_days=None)

    report = SimpleNamespace(
        secondary_endpoints=SimpleNamespace(event_free_survival=estimate(2), overall_survival=estimate(1))
    )
    found = series_of_report(report)
    assert [(s.name, s.events, s.points) for s in found] == [
        (EVENT_FREE_SURVIVAL, 2, CURVE),
        (OVERALL_SURVIVAL, 1, CURVE),
    ]
    assert series_of_report(SimpleNamespace()) == []  # a report without survival estimates: nothing to draw
