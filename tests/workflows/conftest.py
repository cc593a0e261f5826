"""One worker on the session's time-skipping server, and the record it appends to, shared by the workflow tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from records import EventStore
from workers.worker import journey_worker


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
