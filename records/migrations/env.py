"""Alembic environment of the trial record: migrates the connection handed in by records.migrate, or the URL
given with `-x url=...`, the `sqlalchemy.url` option, or TRIALFLOW_DATABASE_URL, in that order."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, text

from records.engine import DEFAULT_DATABASE_URL, WRITE_TRANSACTION, create_record_engine
from records.schema import metadata

# Any fixed number: two processes migrating one PostgreSQL database at once take turns on this lock.
MIGRATION_ADVISORY_LOCK = 7_310_191_001

config = context.config


def _database_url() -> str:
    given = context.get_x_argument(as_dictionary=True).get("url")
    return (
        given
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("TRIALFLOW_DATABASE_URL")
        or DEFAULT_DATABASE_URL
    )


def _migrate(connection: Connection) -> None:
    connection.execution_options(**{WRITE_TRANSACTION: True})
    # One transaction for the whole upgrade or downgrade on SQLite too (its DDL is transactional; Alembic assumes
    # not and commits per migration): a refused step leaves the schema where it was, never half-way.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, transactional_ddl=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_ADVISORY_LOCK})
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    handed_in = config.attributes.get("connection")
    if handed_in is not None:
        _migrate(handed_in)
        return
    engine = create_record_engine(_database_url())
    try:
        with engine.connect() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
