"""Fixtures of the trial-record tests: a migrated store per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy.engine import URL

from records import EventStore, RecordedEvent

BACKENDS = ["sqlite", "postgresql"]
STUDY = "TF-001"
OTHER_STUDY = "TF-002"
FIRST_OCCURRED_AT = datetime(2025, 3, 1, 8, 30, 0, 123456, tzinfo=UTC)
RECORDED_AT = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)


def make_event(sequence: int, study_id: str = STUDY, **changes: Any) -> RecordedEvent:
    """A plausible event of a patient's journey; `changes` override any field."""
    fields: dict[str, Any] = {
        "study_id": study_id,
        "sequence": sequence,
        "event_type": f"StepCompleted{sequence}",
        "occurred_at": FIRST_OCCURRED_AT + timedelta(days=sequence, minutes=sequence),
        "actor_user_id": "nurse.lee",
        "actor_role": "nurse",
        "protocol_version": "1.0",
        "payload": {"step": sequence, "notes": "tolerated well", "values": [1, 2.5, None, True]},
    }
    fields.update(changes)
    return RecordedEvent(**fields)


def make_events(count: int, study_id: str = STUDY, start: int = 1) -> list[RecordedEvent]:
    return [make_event(sequence, study_id) for sequence in range(start, start + count)]


class FixedClock:
    """recorded_at for the store: a known instant that moves on only when told to."""

    def __init__(self, now: datetime = RECORDED_AT) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta = timedelta(minutes=1)) -> None:
        self.now += by


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | URL:
    """An empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'trial-record.sqlite3'}"
    url: URL = request.getfixturevalue("fresh_postgres_url")
    return url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store(database_url: str | URL, clock: FixedClock) -> Iterator[EventStore]:
    """A migrated, empty trial record on the backend under test."""
    event_store = EventStore(database_url, clock=clock)
    event_store.migrate()
    try:
        yield event_store
    finally:
        event_store.close()


@pytest.fixture
def postgres_store(fresh_postgres_url: URL, clock: FixedClock) -> Iterator[EventStore]:
    """A migrated, empty trial record on PostgreSQL, for what only PostgreSQL has."""
    event_store = EventStore(fresh_postgres_url, clock=clock)
    event_store.migrate()
    try:
        yield event_store
    finally:
        event_store.close()


def as_stored(store: EventStore, moment: datetime) -> datetime:
    """A timestamp as raw SQL must pass it: SQLite keeps naive UTC, PostgreSQL takes it with its zone."""
    utc = moment.astimezone(UTC)
    return utc.replace(tzinfo=None) if store.dialect == "sqlite" else utc


@contextmanager
def guards_lifted(store: EventStore) -> Iterator[Connection]:
    """A transaction in which the database's append-only guards are off, as an intruder with DDL rights
    would arrange before tampering; committed on exit."""
    with store.engine.begin() as connection:
        if store.dialect == "postgresql":
            connection.exec_driver_sql("ALTER TABLE trial_events DISABLE TRIGGER USER")
        else:
            connection.exec_driver_sql("DROP TRIGGER trial_events_no_update")
            connection.exec_driver_sql("DROP TRIGGER trial_events_no_delete")
        yield connection
        if store.dialect == "postgresql":
            connection.exec_driver_sql("ALTER TABLE trial_events ENABLE TRIGGER USER")
