"""A TrialClient from the settings: Temporal at the configured address and namespace, the configured record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from config.settings import Settings, load_settings
from config.temporal_connection import connect
from domain.protocol import CURRENT_PROTOCOL, TrialProtocol
from facade.trial_client import TrialClient
from records import EventStore
from security import configured_data_converter
from security.configured_keys import seal_keyring


async def connect_trial_client(
    settings: Settings | None = None, protocol: TrialProtocol = CURRENT_PROTOCOL
) -> TrialClient:
    """Connected with the pydantic data converter (the workers' own `connect`); close its `store` when done."""
    settings = settings or load_settings()
    store = EventStore(settings.database_url)
    try:
        # Idempotent, as the worker does at its start: the CLI may well run before the first worker ever has.
        await asyncio.to_thread(store.migrate)
        temporal = await connect(settings, configured_data_converter(settings))
    except BaseException:
        store.close()
        raise
    return TrialClient(temporal, store, protocol, seal_keys=seal_keyring(settings))


@asynccontextmanager
async def open_trial_client(
    settings: Settings | None = None, protocol: TrialProtocol = CURRENT_PROTOCOL
) -> AsyncIterator[TrialClient]:
    """`async with open_trial_client(settings) as trial:` closes the trial record's connections afterwards."""
    trial = await connect_trial_client(settings, protocol)
    try:
        yield trial
    finally:
        trial.store.close()
