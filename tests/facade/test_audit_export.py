"""The audit trail's export, without a server: every event as stored (who, when, what, why) with its hashes, then
the refused attempts clearly marked; JSON lines and CSV carry the same values, and an auditor can recompute the
chain from either alone (and so notices a row changed after the export)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from facade import AuditFormat
from facade.audit import CSV_COLUMNS, REFUSED_ATTEMPT, AuditEntry, audit_entries, csv_text, exported, jsonl_lines
from records import EventStore
from records.audit_trail import stored_chain
from records.refusals import RefusedAttemptLog
from tests.facade.audit_check import chain_problems_in_export, csv_rows, jsonl_rows
from tests.records.conftest import FixedClock, make_event, make_events

STUDY = "TF-001"
TRIED_AT = datetime(2025, 3, 2, 7, 15, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with EventStore(f"sqlite:///{tmp_path / 'trial-record.db'}", clock=FixedClock()) as event_store:
        event_store.migrate()
        # Three events, the third a correction with its reason (a comma, quotes and a line break: CSV must cope).
        event_store.append([*make_events(2), make_event(3, reason='cells counted twice, "by mistake"\nsee lab note 7')])
        yield event_store


def entries_of(store: EventStore) -> list[AuditEntry]:
    refused = RefusedAttemptLog(store.engine, clock=lambda: TRIED_AT)
    refused.record(
        study_id=STUDY,
        actor_user_id="nurse.ali",
        actor_role="nurse",
        command_kind="record_infusion",
        refusal="forbidden",
        reasons=["a nurse cannot record infusion; this must be done by a physician or an investigator"],
        update_id="key-1",
    )
    return audit_entries(stored_chain(store.engine, STUDY), refused.for_patient(STUDY))


def test_each_event_names_who_when_what_and_why_with_its_place_in_the_chain(store: EventStore) -> None:
    entries = entries_of(store)
    events = [entry for entry in entries if entry.entry == "event"]
    assert [entry.sequence for entry in events] == [1, 2, 3]
    stored = store.stored_events_for(STUDY)
    for entry, original in zip(events, stored, strict=True):
        assert (entry.actor_user_id, entry.actor_role) == ("nurse.lee", "nurse")
        assert entry.occurred_at == original.event.occurred_at and entry.recorded_at == original.recorded_at
        assert entry.event_type == original.event.event_type and entry.payload == original.event.payload_json
        assert (entry.hash, entry.previous_hash) == (original.hash, original.previous_hash)
    assert events[2].reason is not None and events[2].reason.startswith("cells counted twice")
    assert events[0].reason is None

    [refused] = [entry for entry in entries if entry.entry == REFUSED_ATTEMPT]
    assert entries[-1] is refused  # after the chain
    assert refused.sequence is None and refused.hash is None and refused.payload is None
    assert (refused.refused_command, refused.refusal, refused.occurred_at) == ("record_infusion", "forbidden", TRIED_AT)


def test_jsonl_and_csv_carry_the_same_values_and_timestamps_in_the_hashed_spelling(store: EventStore) -> None:
    entries = entries_of(store)
    from_jsonl, from_csv = jsonl_rows("".join(jsonl_lines(entries))), csv_rows(csv_text(entries))
    assert from_jsonl == from_csv
    assert list(from_jsonl[0]) == list(CSV_COLUMNS)
    assert from_jsonl[0]["occurred_at"] == "2025-03-02T08:31:00.123456Z"
    assert from_jsonl[-1]["occurred_at"] == "2025-03-02T07:15:00.000000Z"  # microseconds always written
    assert from_jsonl[-1]["refusal_reasons"] == [
        "a nurse cannot record infusion; this must be done by a physician or an investigator"
    ]
    header = next(csv.reader(io.StringIO(csv_text(entries))))
    assert tuple(header) == CSV_COLUMNS
    assert exported(entries, AuditFormat.CSV) == csv_text(entries)
    assert exported(entries, AuditFormat.JSONL).count("\n") == len(entries)


@pytest.mark.parametrize("audit_format", list(AuditFormat))
def test_an_auditor_recomputes_the_chain_from_the_export_alone_and_sees_any_change(
    store: EventStore, audit_format: AuditFormat
) -> None:
    text = exported(entries_of(store), audit_format)
    rows = csv_rows(text) if audit_format is AuditFormat.CSV else jsonl_rows(text)
    assert store.verify().ok and chain_problems_in_export(rows) == []

    changed = [dict(row) for row in rows]
    changed[1]["payload"] = changed[1]["payload"].replace('"step":2', '"step":20')
    changed[2]["reason"] = "a reason written afterwards"
    assert chain_problems_in_export(changed) == [
        "event 2: its contents do not match its hash",
        "event 3: its contents do not match its hash",
    ]
    dropped = [row for row in rows if row["sequence"] != 2]
    assert chain_problems_in_export(dropped) == ["event 3: not linked to the event before it"]
