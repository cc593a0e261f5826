"""The stack of a fault test module: an embedded Temporal dev server with persistent storage in its own data
directory (free loopback ports), the trial record, and a trial client; worker processes are started by each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlalchemy import make_url
from sqlalchemy.engine import URL
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from records import EventStore
from tests.reliability.patients import RememberingTrialClient
from tests.reliability.worker_process import WorkerProcess, worker_settings
from workers.dev_server import DevServer, free_port

T = TypeVar("T")


@dataclass
class FaultStack:
    server: DevServer
    temporal: Client
    store: EventStore
    trial: RememberingTrialClient
    data_dir: Path
    record_url: URL
    workers: list[WorkerProcess] = field(default_factory=list)

    def worker(self, name: str, **settings: str) -> WorkerProcess:
        """A journey worker process on this stack (not started), stopped when the module ends."""
        process = WorkerProcess(
            name,
            self.data_dir / "workers",
            worker_settings(
                self.server.address,
                self.data_dir,
                database_url=self.record_url.render_as_string(hide_password=False),
                **settings,
            ),
        )
        self.workers.append(process)
        return process

    async def restart_server(self) -> None:
        """Stop the dev server (SIGTERM) and start it again on the same ports and the same database file."""
        await self.server.stop()
        await self.server.start()


@asynccontextmanager
async def fault_stack(data_dir: Path, record_url: URL | None = None) -> AsyncIterator[FaultStack]:
    """A dev server in `data_dir` and the record at `record_url` (default: SQLite in `data_dir`)."""
    record_url = record_url or make_url(f"sqlite:///{data_dir / 'trial-record.db'}")
    store = EventStore(record_url)
    store.migrate()
    server = DevServer(data_dir=data_dir, port=free_port(), ui_port=free_port())
    try:
        async with server:
            temporal = await Client.connect(server.address, data_converter=pydantic_data_converter)
            stack = FaultStack(server, temporal, store, RememberingTrialClient(temporal, store), data_dir, record_url)
            try:
                yield stack
            finally:
                for worker in stack.workers:  # before the server they talk to
                    await worker.stop()
    finally:
        store.close()
