"""The table the benchmark prints (Markdown, so it can be quoted as it is) and the JSON it writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.figures import Figure

COLUMNS = ("figure", "value", "floor", "ratio", "target", "pass")


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if abs(value) >= 100 or float(value).is_integer():
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:,.1f}"
    else:
        text = f"{value:,.2f}"
    return f"{text} {unit}".strip()


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "—"}[passed]


def table(figures: Sequence[Figure]) -> str:
    rows = [
        (
            figure.label,
            _number(figure.value, figure.unit),
            _number(figure.floor, figure.unit),
            "—" if figure.ratio is None else f"{figure.ratio:.2f}x",
            figure.target or "—",
            _verdict(figure.passed),
        )
        for figure in figures
    ]
    widths = [max(len(str(row[i])) for row in (COLUMNS, *rows)) for i in range(len(COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(COLUMNS), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def notes(figures: Sequence[Figure]) -> str:
    return "\n".join(f"- {f.label}: {f.note}" for f in figures if f.note)


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
