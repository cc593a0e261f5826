"""A TrialClient from the settings: Temporal at the configured address and namespace, the configured record, and
the staff directory's channels for supervisors' alerts about electronic signing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from config.settings import Settings, load_settings
from config.temporal_connection import connect
from domain.protocol import CURRENT_PROTOCOL, TrialProtocol
from facade.signing import SigningDesk
from facade.trial_client import TrialClient
from notifications.from_settings import notifier_from_settings
from notifications.notifier import Notifier
from records import EventStore
from records.deliveries import DeliveryLedger
from records.signing_pins import SigningPinStore
from security import configured_data_converter
from security.configured_keys import checkpoint_log, seal_keyring


async def connect_trial_client(
    settings: Settings | None = None, protocol: TrialProtocol = CURRENT_PROTOCOL
) -> TrialClient:
    """Connected with the pydantic data converter (the workers' own `connect`); close it with `close_trial_client`.

    Raises NotificationConfigurationError naming every problem of the staff directory or its channels."""
    settings = settings or load_settings()
    store = EventStore(settings.database_url)
    notifier: Notifier | None = None
    try:
        # Idempotent, as the worker does at its start: the CLI may well run before the first worker ever has.
        await asyncio.to_thread(store.migrate)
        notifier = notifier_from_settings(settings, DeliveryLedger(store.engine))
        temporal = await connect(settings, configured_data_converter(settings))
    except BaseException:
        if notifier is not None:
            notifier.close()
        store.close()
        raise
    signing = SigningDesk(SigningPinStore(store.engine), protocol, notifier)
    return TrialClient(
        temporal,
        store,
        protocol,
        seal_keys=seal_keyring(settings),
        signing=signing,
        checkpoints=checkpoint_log(settings),
        slot_capacity=settings.slot_capacity,
        protocol_effective_dates=settings.protocol_effective_dates,
    )


def close_trial_client(trial: TrialClient) -> None:
    """Close the trial record's connections and the alert channels."""
    trial.signing.close()
    trial.store.close()


@asynccontextmanager
async def open_trial_client(
    settings: Settings | None = None, protocol: TrialProtocol = CURRENT_PROTOCOL
) -> AsyncIterator[TrialClient]:
    """`async with open_trial_client(settings) as trial:` closes the trial record's connections afterwards."""
    trial = await connect_trial_client(settings, protocol)
    try:
        yield trial
    finally:
        close_trial_client(trial)
