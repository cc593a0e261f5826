"""Fixtures of the notification tests: a migrated trial record and its delivery ledger, loopback servers, and
the time-skipping Temporal server for journeys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from records import EventStore
from records.deliveries import DeliveryLedger
from tests.notifications.servers import Certificate, WebhookServer, self_signed_certificate


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
