"""Survival curves for the dashboard as inline, server-rendered SVG: the Kaplan-Meier step function with its
confidence band, drawn from a small view model (`SurvivalSeries`) so the page never needs a script or a chart
library, and a table of the same numbers beside it for screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from web.words import N_

# The drawing's box, in SVG user units (the page scales it to its width).
WIDTH: Final = 560
HEIGHT: Final = 260
LEFT: Final = 48
RIGHT: Final = 16
TOP: Final = 12
BOTTOM: Final = 40
# The survival axis: 0, 25, 50, 75, 100 %.
SURVIVAL_TICKS: Final = (0.0, 0.25, 0.5, 0.75, 1.0)
DAY_TICKS: Final = 5

EVENT_FREE_SURVIVAL: Final = N_("Event-free survival")
OVERALL_SURVIVAL: Final = N_("Overall survival")


@dataclass(frozen=True)
class SurvivalPoint:
    """The estimate from `day` (after infusion) on, with its pointwise confidence interval."""

    day: float
    survival: float
    ci_low: float
    ci_high: float
    at_risk: int


@dataclass(frozen=True)
class SurvivalSeries:
    """One curve: `name` a message of this module (translated when shown), the step function from day 0."""

    name: str
    patients: int
    events: int
    points: tuple[SurvivalPoint, ...]
    median_days: float | None


@dataclass(frozen=True)
class SurvivalDrawing:
    """What the template draws: the curve and its band as SVG paths, the axes' ticks at their places."""

    series: SurvivalSeries
    curve: str
    band: str
    day_ticks: tuple[tuple[float, str], ...]
    survival_ticks: tuple[tuple[float, str], ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom_y: int = HEIGHT - BOTTOM
    right_x: int = WIDTH - RIGHT
    top: int = TOP


def series_of_report(report: Any) -> list[SurvivalSeries]:
    """EFS and OS from the report's secondary endpoints (`facade.models.SurvivalEstimate`: patients, events,
    curve of day/survival/ci_low/ci_high/at_risk, median_days); none when the report has no survival estimates."""
    secondary = getattr(report, "secondary_endpoints", None)
    if secondary is None:
        return []
    found = []
    for name, estimate in (
        (EVENT_FREE_SURVIVAL, secondary.event_free_survival),
        (OVERALL_SURVIVAL, secondary.overall_survival),
    ):
        points = tuple(SurvivalPoint(p.day, p.survival, p.ci_low, p.ci_high, p.at_risk) for p in estimate.curve)
        found.append(SurvivalSeries(name, estimate.patients, estimate.events, points, estimate.median_days))
    return found


def _x(day: float, last_day: float) -> float:
    return round(LEFT + (WIDTH - LEFT - RIGHT) * (day / last_day), 1)


def _y(survival: float) -> float:
    return round(TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - survival), 1)


def _steps(points: Sequence[SurvivalPoint], value: str, last_day: float) -> list[tuple[float, float]]:
    """The step function through `points` (each holds until the next), on to `last_day`."""
    corners: list[tuple[float, float]] = []
    for i, point in enumerate(points):
        level = _y(getattr(point, value))
        corners.append((_x(point.day, last_day), level))
        until = points[i + 1].day if i + 1 < len(points) else last_day
        corners.append((_x(until, last_day), level))
    return corners


def _path(corners: Sequence[tuple[float, float]]) -> str:
    return "M" + " L".join(f"{x},{y}" for x, y in corners) if corners else ""


def _day_ticks(last_day: float) -> tuple[tuple[float, str], ...]:
    step = max(1, round(last_day / (DAY_TICKS - 1)))
    return tuple((_x(day, last_day), str(day)) for day in range(0, int(last_day) + 1, step))


def drawing(series: SurvivalSeries) -> SurvivalDrawing | None:
    """The curve drawn over its own follow-up (at least a day); None with no point to draw."""
    if not series.points:
        return None
    last_day = max(1.0, series.points[-1].day)
    upper = _steps(series.points, "ci_high", last_day)
    lower = _steps(series.points, "ci_low", last_day)
    band = _path(upper + lower[::-1]) + " Z"
    return SurvivalDrawing(
        series=series,
        curve=_path(_steps(series.points, "survival", last_day)),
        band=band,
        day_ticks=_day_ticks(last_day),
        survival_ticks=tuple((_y(level), f"{level:.0%}") for level in SURVIVAL_TICKS),
    )
