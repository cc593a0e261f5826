"""The journey worker: PatientJourneyWorkflow and its activities on one task queue, with the pydantic converter.

`python -m workers` runs it against the configured Temporal address and namespace until SIGTERM or Ctrl-C,
then finishes the activities in hand and exits.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig
from temporalio.worker import Worker

from activities.journey_activities import JourneyActivities
from observability.logging import configure_logging, get_logger
from records import EventStore
from workers.settings import Settings, load_settings
from workflows.journey_messages import TASK_QUEUE
from workflows.patient_journey import PatientJourneyWorkflow

log = get_logger("workers.worker")

ACTIVITY_THREADS = 16


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS as configured: mTLS with a client certificate, a private CA, or plain TLS (for Cloud API keys)."""
    if not settings.uses_tls:
        return False
    return TLSConfig(
        client_cert=settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None,
        client_private_key=settings.temporal_tls_key.read_bytes() if settings.temporal_tls_key else None,
        server_root_ca_cert=settings.temporal_tls_server_ca.read_bytes() if settings.temporal_tls_server_ca else None,
        domain=settings.temporal_tls_server_name,
    )


async def connect(settings: Settings, address: str | None = None) -> Client:
    """A client for the configured cluster: the embedded dev server, a self-hosted one, or Temporal Cloud."""
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
    )


@asynccontextmanager
async def journey_worker(client: Client, store: EventStore, task_queue: str = TASK_QUEUE) -> AsyncIterator[Worker]:
    """A running worker for journeys; shut down (activities finished) when the block ends."""
    activities = JourneyActivities(store)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[PatientJourneyWorkflow],
            activities=[activities.append_events, activities.notify],
            activity_executor=executor,
        )
        async with worker:
            yield worker


async def run_worker(settings: Settings, stop: asyncio.Event, address: str | None = None) -> None:
    """Run until `stop` is set."""
    store = EventStore(settings.database_url)
    store.migrate()
    try:
        client = await connect(settings, address)
        async with journey_worker(client, store):
            log.info("worker started", task_queue=TASK_QUEUE, namespace=settings.temporal_namespace)
            await stop.wait()
            log.info("worker stopping")
    finally:
        store.close()


def main() -> int:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(serve())
    return 0
