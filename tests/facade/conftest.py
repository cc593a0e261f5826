"""One real Temporal dev server for the facade tests, a worker serving its journeys, and a TrialClient over both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from facade import TrialClient
from records import EventStore
from tests.test_dev_server import free_port
from workers.dev_server import DevServer
from workers.worker import journey_worker


@dataclass(frozen=True)
class Stack:
    server: DevServer
    temporal: Client
    store: EventStore
    task_queue: str
    trial: TrialClient
    data_dir: Path


def new_store(directory: Path, name: str = "trial-record.db") -> EventStore:
    store = EventStore(f"sqlite:///{directory / name}")
    store.migrate()
    return store


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """A dev server on free loopback ports in its own directory, one worker, and the record it appends to."""
    data_dir = tmp_path_factory.mktemp("facade")
    store = new_store(data_dir)
    try:
        async with DevServer(data_dir=data_dir, port=free_port(), ui_port=free_port()) as server:
            temporal = await Client.connect(server.address, data_converter=pydantic_data_converter)
            task_queue = f"journeys-{uuid.uuid4()}"
            async with journey_worker(temporal, store, task_queue=task_queue):
                trial = TrialClient(temporal, store, task_queue=task_queue)
                yield Stack(server, temporal, store, task_queue, trial, data_dir)
    finally:
        store.close()
