"""The services of the embedded stack: each an async function that sets `ready` once it serves, then runs until
cancelled; cancellation is the signal to shut down cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from api.app import create_app
from api.codec_server import CodecServerSettings, create_codec_app
from api.server import DEFAULT_API_HOST, serve
from config.settings import Settings
from facade import open_trial_client
from observability.logging import get_logger
from security import PayloadKeyring, payload_keyring
from security.token_file import authenticator_for
from workers.worker import run_worker

log = get_logger("stack.services")


@dataclass(frozen=True)
class Stack:
    """What a service needs to know about the running stack."""

    settings: Settings
    temporal_address: str  # the embedded server's, which may differ from settings.temporal_address
    temporal_namespace: str
    temporal_ui_url: str


Service = Callable[[Stack, asyncio.Event], Coroutine[Any, Any, None]]


async def journey_worker_service(stack: Stack, ready: asyncio.Event) -> None:
    """The journey worker against the embedded server, appending to the embedded trial record."""
    ready.set()  # nothing waits on it: work sent before it polls waits in its task queue, never lost
    await run_worker(stack.settings, asyncio.Event(), address=stack.temporal_address)


async def api_service(stack: Stack, ready: asyncio.Event) -> None:
    """The HTTP API over a trial client of the embedded stack, until cancelled."""
    auth = authenticator_for(stack.settings)
    if not auth.configured:
        log.warning("api_no_tokens", hint="`trial admin token new --user ID --role ROLE` makes one; until then, 401")
    # The embedded server's address, which may differ from the configured one.
    settings = stack.settings.model_copy(update={"temporal_address": stack.temporal_address})
    async with open_trial_client(settings) as trial:
        app = create_app(trial, auth, max_body_bytes=settings.api_max_body_bytes)
        await serve(app, DEFAULT_API_HOST, settings.api_port, started=ready)


def codec_url(settings: CodecServerSettings) -> str:
    return f"http://{DEFAULT_API_HOST}:{settings.port}"


def stack_keyring(settings: Settings) -> PayloadKeyring:
    keyring = payload_keyring(settings)
    assert keyring is not None, "make run sets the payload keys before it starts its services"
    return keyring


async def codec_service(stack: Stack, ready: asyncio.Event) -> None:
    """Decodes the stack's payloads for authorised staff (Temporal CLI `--codec-endpoint`, or the Web UI)."""
    codec_settings = CodecServerSettings()
    # The stack's own Web UI may call it, unless other origins are configured.
    origins = (
        codec_settings.cors_origins
        if "cors_origins" in codec_settings.model_fields_set
        else (stack.temporal_ui_url, stack.temporal_ui_url.replace("127.0.0.1", "localhost"))
    )
    app = create_codec_app(stack_keyring(stack.settings), authenticator_for(stack.settings), cors_origins=origins)
    await serve(app, DEFAULT_API_HOST, codec_settings.port, started=ready)


SERVICES: list[Service] = [journey_worker_service, api_service, codec_service]
