"""Rich tables more than one command prints."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text


def facts_table(title: str, rows: Iterable[tuple[str, str | Text]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("Item", style="bold", no_wrap=True)
    table.add_column("Value", overflow="fold")
    for label, value in rows:
        table.add_row(label, value if isinstance(value, Text) else Text(value))
    return table
