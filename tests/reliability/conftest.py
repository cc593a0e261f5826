"""Fixtures of the fault tests: one PostgreSQL of their own for the session (never an external one: a test stops
and starts it), a fresh database per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL

from tests.postgres import wait_until_reachable
from tests.reliability.postgres_outage import PausablePostgres


@pytest.fixture(scope="session")
def pausable_postgres() -> Iterator[PausablePostgres]:
    server = PausablePostgres()
    server.start()
    try:
        wait_until_reachable(server.url)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def record_database(pausable_postgres: PausablePostgres) -> Iterator[URL]:
    """An empty database for the trial record of one test module."""
    server = pausable_postgres.server()
    url = server.create_database("trialflow_reliability")
    try:
        yield url
    finally:
        server.drop_database(url)
