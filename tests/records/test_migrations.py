"""The schema comes from migrations only: from empty, idempotent, matching the code, never dropping data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import URL

from records import EventStore, SchemaNotReadyError, upgrade_to_head
from records.migrate import MIGRATIONS_DIR, alembic_config, current_revision, head_revision
from records.schema import metadata
from tests.records.conftest import STUDY, make_events

RECORD_TABLES = {"trial_events", "patient_summaries"}
REPO_ROOT = Path(__file__).resolve().parents[2]


def table_names(store: EventStore) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def test_migrations_build_the_schema_from_empty_and_running_them_again_changes_nothing(
    database_url: str | URL,
) -> None:
    store = EventStore(database_url)
    try:
        assert table_names(store) & RECORD_TABLES == set()
        with pytest.raises(SchemaNotReadyError, match="no trial-record schema"):
            store.check_schema()

        store.migrate()
        store.check_schema()
        assert table_names(store) >= RECORD_TABLES
        store.append(make_events(3))

        store.migrate()
        upgrade_to_head(database_url)  # as a worker would at every start
        assert current_revision(store.engine) == head_revision()
        assert store.last_sequence(STUDY) == 3
        assert store.verify().ok
    finally:
        store.close()


def test_the_migrated_schema_is_exactly_what_the_code_expects(store: EventStore) -> None:
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_a_downgrade_never_drops_a_record_that_holds_events(store: EventStore) -> None:
    store.append(make_events(2))
    config = alembic_config()

    with store.engine.connect() as connection:
        config.attributes["connection"] = connection
        with pytest.raises(RuntimeError, match="refusing to drop the trial record: it holds 2 events"):
            command.downgrade(config, "base")

    assert store.last_sequence(STUDY) == 2
    store.check_schema()


def test_an_empty_record_can_be_downgraded_and_rebuilt(store: EventStore) -> None:
    config = alembic_config()
    with store.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert table_names(store) & RECORD_TABLES == set()

    store.migrate()
    store.append(make_events(1))
    assert store.verify().ok


def test_workers_starting_together_migrate_once_without_tripping_over_each_other(
    database_url: str | URL,
) -> None:
    """Three processes at once: two through Python, one through the documented alembic command line."""
    url = database_url.render_as_string(hide_password=False) if isinstance(database_url, URL) else database_url
    python_upgrade = [
        sys.executable,
        "-c",
        f"from records.migrate import upgrade_to_head; upgrade_to_head({url!r})",
    ]
    alembic_upgrade = [
        sys.executable,
        "-m",
        "alembic",
        "-c",
        str(MIGRATIONS_DIR / "alembic.ini"),
        "-x",
        f"url={url}",
        "upgrade",
        "head",
    ]
    processes = [
        subprocess.Popen(command_line, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for command_line in (python_upgrade, python_upgrade, alembic_upgrade)
    ]
    outputs = [process.communicate(timeout=60)[0] for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    store = EventStore(database_url)
    try:
        store.check_schema()
        store.append(make_events(1))
        assert store.verify().ok
    finally:
        store.close()
