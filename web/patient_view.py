"""What a patient's page shows beyond the status: when each event was recorded (the trial record's own time), the
CRS and ICANS grades over time as an inline SVG chart drawn here on the server, and the steps the reader may record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from domain.toxicity import ASTCT_MAX_GRADE
from facade.audit import AuditEntry

# The chart's drawing box, in SVG user units; the page scales it to its width.
WIDTH: Final = 640
HEIGHT: Final = 220
LEFT: Final = 48  # room for the grade axis' labels
RIGHT: Final = 16
TOP: Final = 16
BOTTOM: Final = 40
GRADED: Final = {"crs_assessed": "crs", "icans_assessed": "icans"}


@dataclass(frozen=True)
class GradePoint:
    at: datetime
    grade: int
    x: float
    y: float


@dataclass(frozen=True)
class GradeChart:
    """Both series on one time axis; `ticks` label the grades, `span` the first and last assessment."""

    crs: tuple[GradePoint, ...]
    icans: tuple[GradePoint, ...]
    first: datetime | None
    last: datetime | None
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        return not (self.crs or self.icans)

    @property
    def ticks(self) -> list[tuple[int, float]]:
        return [(grade, _y(grade)) for grade in range(ASTCT_MAX_GRADE + 1)]

    @staticmethod
    def path(points: Sequence[GradePoint]) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(points))

    @property
    def one_moment(self) -> bool:
        return self.first == self.last

    @property
    def left(self) -> int:
        return LEFT

    @property
    def right(self) -> int:
        return WIDTH - RIGHT

    @property
    def bottom(self) -> int:
        return HEIGHT - BOTTOM


def _y(grade: int) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - grade / ASTCT_MAX_GRADE)


def grade_chart(entries: Sequence[AuditEntry]) -> GradeChart:
    """The graded assessments of the record (a correction's grade replaces the one it corrects), oldest first."""
    graded: dict[str, list[tuple[datetime, int]]] = {"crs": [], "icans": []}
    corrected = set()
    found: list[tuple[int, str, datetime, int]] = []
    for entry in entries:
        if entry.entry != "event" or entry.event_type not in GRADED or entry.payload is None:
            continue
        payload = json.loads(entry.payload)
        if payload.get("supersedes"):
            corrected.add(payload["supersedes"])
        at = datetime.fromisoformat(payload["assessed_at"])  # the assessment's own time, even when entered late
        found.append((entry.sequence or 0, GRADED[entry.event_type], at, int(payload["grade"])))
    for sequence, series, at, grade in found:
        if sequence not in corrected:
            graded[series].append((at, grade))
    moments = [at for series in graded.values() for at, _ in series]
    if not moments:
        return GradeChart((), (), None, None)
    first, last = min(moments), max(moments)
    span = (last - first).total_seconds() or 1.0

    def point(at: datetime, grade: int) -> GradePoint:
        x = LEFT + (WIDTH - LEFT - RIGHT) * ((at - first).total_seconds() / span if last > first else 0.5)
        return GradePoint(at, grade, x, _y(grade))

    crs = tuple(point(at, g) for at, g in sorted(graded["crs"]))
    icans = tuple(point(at, g) for at, g in sorted(graded["icans"]))
    return GradeChart(crs, icans, first, last)


# The fields of an event's payload that say when its fact happened (a step entered late happened days before it was
# recorded), the most precise first.
HAPPENED_FIELDS: Final = (
    "at",
    "assessed_at",
    "infused_at",
    "given_at",
    "submitted_at",
    "collected_on",
    "released_on",
    "failed_on",
    "signed_on",
    "visit_date",
    "resumed_on",
    "diagnosed_on",
    "withdrawn_on",
    "died_on",
    "last_contact_on",
    "last_dose_on",
    "window_closed_on",
    "started_on",
    "completed_on",
)


def happened_moments(entries: Sequence[AuditEntry]) -> dict[int, datetime | date]:
    """When each event's fact happened, by its sequence, where its payload says so (else the page shows when it was
    recorded): the moment, or the day for facts recorded by their day."""
    found: dict[int, datetime | date] = {}
    for entry in entries:
        if entry.entry != "event" or entry.sequence is None or entry.payload is None:
            continue
        payload = json.loads(entry.payload)
        value = next((payload[key] for key in HAPPENED_FIELDS if isinstance(payload.get(key), str)), None)
        if value is not None:
            found[entry.sequence] = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    return found
