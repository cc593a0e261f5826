"""The stack of a fault test module: an embedded Temporal dev server with persistent storage in its own data
directory (free loopback ports), the trial record, and a trial client; worker processes are started by each test.

Run as production runs: every payload through Temporal encrypted with the stack's payload keys, and every command
sealed with its seal keys, which each worker process reads from the data directory and checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import make_url
from sqlalchemy.engine import URL
from temporalio.client import Client

from facade.command_seals import sealing_client
from records import EventStore
from security.configured_keys import DEFAULT_KEY_FILE_NAME, DEFAULT_SEAL_KEY_FILE_NAME
from security.data_converter import data_converter_for
from security.keys import PayloadKeyring, SealKeyring, ensure_key_file
from tests.reliability.patients import RememberingTrialClient
from tests.reliability.worker_process import WorkerProcess, worker_settings
from workers.dev_server import DevServer, free_port

T = TypeVar("T")


@dataclass
class FaultStack:
    server: DevServer
    temporal: Client  # encrypts, and seals the commands sent through it directly
    store: EventStore
    trial: RememberingTrialClient
    data_dir: Path
    record_url: URL
    payload_keys: PayloadKeyring
    seal_keys: SealKeyring
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
                payload_keys_file=str(self.data_dir / DEFAULT_KEY_FILE_NAME),
                seal_keys_file=str(self.data_dir / DEFAULT_SEAL_KEY_FILE_NAME),
                **settings,
            ),
        )
        self.workers.append(process)
        return process

    async def restart_server(self) -> None:
        """Stop the dev server (SIGTERM) and start it again on the same ports and the same database file."""
        await self.server.stop()
        await self.server.start()


def stack_keys(data_dir: Path) -> tuple[PayloadKeyring, SealKeyring]:
    """The stack's payload and seal keys, in the data directory's key files (made on first use), as `make run` has."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return (
        ensure_key_file(data_dir / DEFAULT_KEY_FILE_NAME),
        ensure_key_file(data_dir / DEFAULT_SEAL_KEY_FILE_NAME, "s1", SealKeyring),
    )


@asynccontextmanager
async def fault_stack(data_dir: Path, record_url: URL | None = None) -> AsyncIterator[FaultStack]:
    """A dev server in `data_dir` and the record at `record_url` (default: SQLite in `data_dir`)."""
    record_url = record_url or make_url(f"sqlite:///{data_dir / 'trial-record.db'}")
    store = EventStore(record_url)
    store.migrate()
    server = DevServer(data_dir=data_dir, port=free_port(), ui_port=free_port())
    payload_keys, seal_keys = stack_keys(data_dir)
    try:
        async with server:
            raw = await Client.connect(server.address, data_converter=data_converter_for(payload_keys))
            temporal = sealing_client(raw, seal_keys, lambda: datetime.now(UTC))
            trial = RememberingTrialClient(raw, store, seal_keys=seal_keys)
            stack = FaultStack(server, temporal, store, trial, data_dir, record_url, payload_keys, seal_keys)
            try:
                yield stack
            finally:
                for worker in stack.workers:  # before the server they talk to
                    await worker.stop()
    finally:
        store.close()
