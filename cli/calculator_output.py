"""What the staff calculators share: their help panel, their two-column tables, and how numbers and choices are
written. Each calculator lives in its own module, so that a command imports only its own domain."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Any

from rich.table import Table
from rich.text import Text

PANEL = "Calculators (no server needed)"


def facts_table(title: str, rows: Iterable[tuple[str, Text | str]]) -> Table:
    """Two columns, what and value; every cell is plain text, never markup ("[...]" in a reason stays)."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("", overflow="fold")
    for what, value in rows:
        table.add_row(Text(what), value if isinstance(value, Text) else Text(value))
    return table


def _decimals(step: float) -> int:
    return max(0, -int(Decimal(repr(step)).normalize().as_tuple().exponent))


def to_step(value: float, step: float) -> str:
    """A value recorded to `step` written with the step's decimals: 0.856 m², 25.7 mg, 428 mg."""
    return f"{value:.{_decimals(step)}f}"


def plain_number(value: float) -> str:
    """As typed, without a trailing ".0" or an exponent: 30, 0.2, 22.5."""
    return format(Decimal(repr(value)).normalize(), "f")


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def cell_count(count: float) -> str:
    """6.6 × 10⁷, as the protocol writes cell counts."""
    exact = Decimal(repr(count)).normalize()
    exponent = exact.adjusted()
    mantissa = format(exact.scaleb(-exponent).normalize(), "f")
    return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def choice_value(value: str | None) -> str | None:
    """An enumeration value as typed: "Nasal-Cannula" and "nasal cannula" are nasal_cannula."""
    return value.strip().lower().replace("-", "_").replace(" ", "_") if value is not None else None


def choices_text(enumeration: type[StrEnum]) -> str:
    return ", ".join(member.value for member in enumeration)


def options_given(**values: Any) -> dict[str, Any]:
    """The options given; one left out is missing (so "is required"), not null."""
    return {name: value for name, value in values.items() if value is not None}
