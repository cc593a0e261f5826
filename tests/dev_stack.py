"""One real Temporal dev server, a worker serving its journeys, the record it appends to, and a TrialClient over
both: the `stack` fixture's contents (tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from facade import TrialClient
from records import EventStore
from workers.dev_server import DevServer


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
