"""Locks a test takes on the trial record's database to hold its writers at a chosen point: the record is then
unavailable to them, as a long transaction, a backup or a stalled disk would make it, until the lock is let go."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL


@contextmanager
def sqlite_write_lock(record_file: Path) -> Iterator[None]:
    """Hold the SQLite record's write lock: every append waits on its busy timeout until the block ends."""
    connection = sqlite3.connect(record_file, isolation_level=None, timeout=30)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


@contextmanager
def postgres_tables_locked(url: URL, *tables: str) -> Iterator[None]:
    """Hold `tables` in EXCLUSIVE mode until the block ends: readers pass; inserts wait, and so does the record's own
    projection rebuild (it locks patient_summaries first)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            connection.execute(text(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()
