"""The services of the embedded stack: each an async function that sets `ready` once it serves, then runs until
cancelled; cancellation is the signal to shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from api.app import create_app
from api.codec_server import CodecServerSettings, create_codec_app
from api.server import DEFAULT_API_HOST, serve
from config.settings import ENV_PREFIX, Settings, as_environment
from facade import open_trial_client
from observability.logging import get_logger
from security import PayloadKeyring, payload_keyring
from security.token_file import authenticator_for
from stack.supervisor import ServiceExited
from web import web_config_for
from workers.child_process import dies_with_this_process

log = get_logger("stack.services")


@dataclass(frozen=True)
class Stack:
    """What a service needs to know about the running stack."""

    settings: Settings
    temporal_address: str  # the embedded server's, which may differ from settings.temporal_address
    temporal_namespace: str
    temporal_ui_url: str


Service = Callable[[Stack, asyncio.Event], Coroutine[Any, Any, None]]


# The worker finishes the activities in hand (workers/worker.py ACTIVITY_SHUTDOWN_GRACE) before it exits.
WORKER_STOP_SECONDS = 30.0


async def journey_worker_service(stack: Stack, ready: asyncio.Event) -> None:
    """The journey worker (`python -m workers`) against the embedded server, appending to the embedded trial record:
    a process of its own, so that whatever kills it (a native crash in the SDK, the out-of-memory killer, `kill -9`)
    is seen as its exit code and it can be started again, as a container orchestrator restarts workers in
    production, while the API and the dev server go on serving. It runs on the stack's own settings, and stops with
    the stack even when the stack is killed outright (workers/child_process.py)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    environment |= as_environment(stack.settings) | {
        f"{ENV_PREFIX}TEMPORAL_ADDRESS": stack.temporal_address,  # the embedded server's
        f"{ENV_PREFIX}TEMPORAL_NAMESPACE": stack.temporal_namespace,
    }
    await run_child_process("journey_worker", [sys.executable, "-m", "workers"], environment, ready)


async def run_child_process(
    name: str,
    argv: list[str],
    environment: dict[str, str],
    started: asyncio.Event,
    stop_seconds: float = WORKER_STOP_SECONDS,
) -> None:
    """Run `argv` until it exits (ServiceExited) or this is cancelled (SIGTERM, SIGKILL after `stop_seconds`).
    Its own session, as the dev server's: Ctrl-C reaches the stack only, which stops it in order; its output is
    the stack's."""
    process = await asyncio.create_subprocess_exec(
        *dies_with_this_process(argv), env=environment, stdin=asyncio.subprocess.DEVNULL, start_new_session=True
    )
    log.info("service_started", service=name, pid=process.pid)
    started.set()  # nothing waits on the worker: work sent before it polls waits in its task queue, never lost
    try:
        exit_code = await process.wait()
    except BaseException:
        await _stop_child(name, process, stop_seconds)
        raise
    raise ServiceExited(name, exit_code)


async def _stop_child(name: str, process: asyncio.subprocess.Process, stop_seconds: float) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=stop_seconds)
        except BaseException:  # still running, or the stop itself cancelled: never leave it behind
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(process.wait())
    log.info("service_stopped", service=name, exit_code=process.returncode)


async def api_service(stack: Stack, ready: asyncio.Event) -> None:
    """The HTTP API over a trial client of the embedded stack, until cancelled."""
    auth = authenticator_for(stack.settings)
    if not auth.configured:
        log.warning("api_no_tokens", hint="`trial admin token new --user ID --role ROLE` makes one; until then, 401")
    # The embedded server's address, which may differ from the configured one.
    settings = stack.settings.model_copy(update={"temporal_address": stack.temporal_address})
    async with open_trial_client(settings) as trial:
        app = create_app(trial, auth, max_body_bytes=settings.api_max_body_bytes, web=web_config_for(settings))
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


def service_name(service: Service) -> str:
    """How the logs name a service: `journey_worker` for journey_worker_service."""
    return str(getattr(service, "__name__", "service")).removesuffix("_service")
