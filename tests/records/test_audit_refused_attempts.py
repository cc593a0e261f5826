"""The refused attempts table (migration 0003) on SQLite and PostgreSQL: kept as given, read per patient in order,
append-only in the database itself, and never dropped by a downgrade while it holds an attempt."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from records import EventStore
from records.audit_trail import stored_chain
from records.migrate import alembic_config
from records.refusals import RefusedAttempt, RefusedAttemptLog
from tests.records.conftest import OTHER_STUDY, STUDY, FixedClock, make_events


def keep(log: RefusedAttemptLog, study_id: str = STUDY, **changes: object) -> RefusedAttempt:
    fields: dict[str, object] = {
        "study_id": study_id,
        "actor_user_id": "nurse.ali",
        "actor_role": "nurse",
        "command_kind": "record_infusion",
        "refusal": "forbidden",
        "reasons": ["a nurse cannot record infusion; this must be done by a physician or an investigator"],
        "update_id": "key-1",
    }
    fields.update(changes)
    return log.record(**fields)  # type: ignore[arg-type]


def test_refused_attempts_are_kept_as_given_and_read_per_patient_oldest_first(
    store: EventStore, clock: FixedClock
) -> None:
    log = RefusedAttemptLog(store.engine, clock=clock)
    first = keep(log)
    clock.advance(timedelta(minutes=5))
    second = keep(log, actor_role="supervisor", reasons=["one", "two"], update_id=None, refusal="forbidden")
    keep(log, OTHER_STUDY, refusal="unknown_patient")

    assert log.for_patient(STUDY) == [first, second]
    assert second.attempted_at - first.attempted_at == timedelta(minutes=5)
    assert [attempt.refusal for attempt in log.for_patient(OTHER_STUDY)] == ["unknown_patient"]
    assert log.for_patient("TF-404") == []


def test_an_overlong_reason_or_update_id_is_cut_never_refused(store: EventStore) -> None:
    attempt = keep(RefusedAttemptLog(store.engine), reasons=["x" * 5000], update_id="k" * 500)
    assert len(attempt.reasons[0]) == 2000 and attempt.update_id == "k" * 128
    assert RefusedAttemptLog(store.engine).for_patient(STUDY) == [attempt]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE refused_attempts SET actor_user_id = 'someone.else'", "DELETE FROM refused_attempts"],
)
def test_the_database_refuses_to_change_or_remove_an_attempt(store: EventStore, statement: str) -> None:
    log = RefusedAttemptLog(store.engine)
    kept = keep(log)
    with pytest.raises(DBAPIError, match="refused attempts are append-only"), store.engine.begin() as connection:
        connection.execute(text(statement))
    assert log.for_patient(STUDY) == [kept]


def test_a_downgrade_never_drops_refused_attempts(store: EventStore) -> None:
    keep(RefusedAttemptLog(store.engine))
    config = alembic_config()
    with store.engine.connect() as connection:
        config.attributes["connection"] = connection
        with pytest.raises(RuntimeError, match="refusing to drop the refused attempts: the table holds 1"):
            command.downgrade(config, "0002_notification_deliveries")
    store.check_schema()


def test_the_stored_chain_is_the_rows_as_stored(store: EventStore) -> None:
    store.append(make_events(3))
    rows = stored_chain(store.engine, STUDY)
    stored = store.stored_events_for(STUDY)
    assert [(row.sequence, row.hash, row.previous_hash) for row in rows] == [
        (event.event.sequence, event.hash, event.previous_hash) for event in stored
    ]
    assert all(row.recomputed_hash() == row.hash for row in rows)
    assert stored_chain(store.engine, OTHER_STUDY) == []
