"""What an auditor does with an exported audit trail: recompute each event's hash from its own row and check that
each row points at the hash of the one before it. Rows are the export's (JSON lines objects or CSV dicts)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from records.hashing import GENESIS_HASH, event_hash


def jsonl_rows(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def csv_rows(text: str) -> list[dict[str, Any]]:
    """CSV rows with empty cells as None, the sequence as a number: the JSON lines' values."""
    rows = []
    for row in csv.DictReader(io.StringIO(text, newline="")):
        typed: dict[str, Any] = {name: (value if value != "" else None) for name, value in row.items()}
        if typed["sequence"] is not None:
            typed["sequence"] = int(typed["sequence"])
        if typed["refusal_reasons"] is not None:
            typed["refusal_reasons"] = json.loads(typed["refusal_reasons"])
        rows.append(typed)
    return rows


def chain_problems_in_export(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every event row whose hash or link does not hold; an empty list: the exported chain is intact."""
    problems: list[str] = []
    previous = GENESIS_HASH
    for row in (row for row in rows if row["entry"] == "event"):
        recomputed = event_hash(
            {
                **row,
                "occurred_at": datetime.fromisoformat(row["occurred_at"]),
                "recorded_at": datetime.fromisoformat(row["recorded_at"]),
            }
        )
        if recomputed != row["hash"]:
            problems.append(f"event {row['sequence']}: its contents do not match its hash")
        if row["previous_hash"] != previous:
            problems.append(f"event {row['sequence']}: not linked to the event before it")
        previous = row["hash"]
    return problems
