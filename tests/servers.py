"""What the shared server fixtures (tests/conftest.py) hold: a dev server stack, and the time-skipping server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from config.search_attributes import register_search_attributes
from facade import TrialClient
from records import EventStore
from workers.dev_server import DevServer
from workers.time_skipping import start_time_skipping


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


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (from the PyPI wheel, never downloaded), with the journey's search attributes."""
    env = await start_time_skipping()
    async with env:
        await register_search_attributes(env.client)
        yield env
