"""Fixtures of the notification tests: a migrated trial record and its delivery ledger, loopback servers, and
the time-skipping Temporal server for journeys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from records import EventStore
from records.deliveries import DeliveryLedger
from tests.notifications.servers import Certificate, WebhookServer, self_signed_certificate
from tests.servers import time_skipping_server


@pytest.fixture
def record_store(tmp_path: Path) -> Iterator[EventStore]:
    store = EventStore(f"sqlite:///{tmp_path / 'trial-record.db'}")
    store.migrate()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def ledger(record_store: EventStore) -> DeliveryLedger:
    return DeliveryLedger(record_store.engine)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def webhooks() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of their own: each test's worker stops while its journeys still wait on timers, which
    holds that server's clock still for anyone else's journey."""
    async with time_skipping_server() as env:
        yield env
