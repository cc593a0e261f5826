"""The API as a `make run` service: uvicorn on 127.0.0.1, logging through structlog, stopped by cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.token_file import authenticator_for
from facade import open_trial_client
from observability.logging import get_logger

if TYPE_CHECKING:
    from workers.run import Stack

DEFAULT_API_HOST: Final = "127.0.0.1"  # loopback only until the security issue puts TLS in front

GRACEFUL_SHUTDOWN_SECONDS: Final = 5  # open requests may finish; a stuck one does not hold `make run` open

log = get_logger("api.service")


class _StackServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the stack handles Ctrl-C and SIGTERM, then cancels the service."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(app: FastAPI, host: str, port: int, started: asyncio.Event | None = None) -> None:
    """Serve `app` until cancelled, then stop uvicorn cleanly (open requests finish)."""
    # log_config=None: uvicorn's loggers keep the handlers configure_logging gave them (structlog's).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = _StackServer(config)
    task = asyncio.create_task(server.serve(), name="uvicorn")
    try:
        while not server.started:
            if task.done():
                await task  # its error, e.g. the port in use
                raise RuntimeError(f"the API could not start on {host}:{port}")
            await asyncio.sleep(0.02)
        log.info("api_started", url=f"http://{host}:{port}")
        if started is not None:
            started.set()
        await asyncio.shield(task)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        log.info("api_stopped")


def api_url(port: int, host: str = DEFAULT_API_HOST) -> str:
    return f"http://{host}:{port}"


async def api_service(stack: Stack, ready: asyncio.Event | None = None) -> None:
    """The HTTP API over a trial client of the embedded stack, until cancelled."""
    settings = stack.settings
    port = settings.api_port
    auth = authenticator_for(settings)
    if not auth.configured:
        log.warning("api_no_tokens", hint="`trial token new --user <id> --role <role>` makes one; until then, 401")
    # The embedded server's address, which may differ from the configured one.
    settings = settings.model_copy(update={"temporal_address": stack.temporal_address})
    async with open_trial_client(settings) as trial:
        await serve(create_app(trial, auth), DEFAULT_API_HOST, port, started=ready)
