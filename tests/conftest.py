"""The servers the tests share, started once per session when a test asks for them and always stopped: a
Temporal dev server with a worker (`stack`), the time-skipping test server (`time_skipping_env`), and PostgreSQL."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import URL
from temporalio.testing import WorkflowEnvironment

from tests.postgres import (
    DATABASE_URL_ENV,
    EmbeddedPostgres,
    PostgresServer,
    as_psycopg_url,
    wait_until_reachable,
)
from tests.servers import Stack, dev_stack, time_skipping_server
from tests.unraisable import passing_sdk_deadlock_interruptions

# Examples are judged by what they find, never by how fast a shared, loaded machine runs them.
settings.register_profile("trialflow", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("trialflow")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """After pytest's own hook is in place: wrapped, so that the SDK's deadlock interruption of a workflow task on a
    loaded machine is not an error (tests/unraisable.py); pytest puts the original hook back at the end."""
    sys.unraisablehook = passing_sdk_deadlock_interruptions(sys.unraisablehook)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """A dev server on free loopback ports in its own directory, one worker, and the record it appends to: one per
    module, so a module's lists and counts hold its own patients only."""
    async with dev_stack(tmp_path_factory.mktemp("dev-stack"), "journeys") as stack:
        yield stack


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping server that tests whose one worker outlives their journeys share."""
    async with time_skipping_server() as env:
        yield env


@pytest_asyncio.fixture
async def own_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server for one test that runs its own worker (a fraction of a second to start): the test's
    workflows outlive its worker, and the first timer of theirs to come due would hold a shared server's clock still
    for every later test (their `env.sleep` would never return)."""
    async with time_skipping_server() as env:
        yield env


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL: TRIALFLOW_TEST_DATABASE_URL's, else an embedded one (never skipped)."""
    given = os.environ.get(DATABASE_URL_ENV)
    if given:
        url = as_psycopg_url(given)
        wait_until_reachable(url)
        yield PostgresServer(admin_url=url, embedded=False)
        return
    with EmbeddedPostgres() as server:
        wait_until_reachable(server.url)
        yield PostgresServer(admin_url=server.url, embedded=True)


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[URL]:
    """An empty PostgreSQL namespace for one test: a new schema (a few ms), dropped afterwards."""
    url = postgres_server.create_schema()
    try:
        yield url
    finally:
        postgres_server.drop_schema(url)


@pytest.fixture
def fresh_postgres_database(postgres_server: PostgresServer) -> Iterator[URL]:
    """A new, empty database for one test (about 0.25 s), dropped afterwards."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)
