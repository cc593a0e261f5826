"""Engines for the trial record: a SQLite file by default (WAL, foreign keys, busy timeout), or PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL

from config.settings import DEFAULT_DATABASE_FILE

DEFAULT_DATABASE_URL = f"sqlite:///.data/{DEFAULT_DATABASE_FILE}"
SQLITE_BUSY_TIMEOUT_SECONDS = 30
# Execution option marking a transaction that will write: on SQLite it starts with BEGIN IMMEDIATE, taking
# the write lock first, so two writers queue on the busy timeout instead of one failing mid-transaction.
WRITE_TRANSACTION = "trialflow_write_transaction"


def normalize_database_url(url: str | URL) -> URL:
    """The URL with its driver made explicit: a bare postgresql:// speaks psycopg 3 (the installed driver)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_record_engine(
    url: str | URL = DEFAULT_DATABASE_URL, *, durable: bool = True, **engine_options: Any
) -> Engine:
    """An Engine for the trial record at `url`, configured for safe concurrent use from a thread pool.

    `durable=False` only for a record thrown away with its process (`trial-demo`): SQLite skips the fsync per commit.
    """
    parsed = normalize_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, durable=durable, **engine_options)
    engine_options.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **engine_options)


def _sqlite_engine(url: URL, *, durable: bool, **engine_options: Any) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = dict(engine_options.pop("connect_args", {}))
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_SECONDS)
    connect_args.setdefault("check_same_thread", False)  # the pool hands connections between threads
    engine = create_engine(url, connect_args=connect_args, **engine_options)

    @event.listens_for(engine, "connect")
    def _configure_connection(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Take transaction control away from the sqlite3 module so that BEGIN is ours (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            # The permanent record: durable at every commit. A throwaway one: crash-safe, not power-loss-safe.
            cursor.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE_TRANSACTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
