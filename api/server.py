"""Serving an ASGI app with uvicorn: logging through structlog, stopped by cancellation (the stack's and `python -m
api`'s)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Final

import uvicorn
from fastapi import FastAPI

from observability.logging import get_logger

DEFAULT_API_HOST: Final = "127.0.0.1"  # loopback unless told otherwise: the API serves plain HTTP, without TLS

GRACEFUL_SHUTDOWN_SECONDS: Final = 5  # open requests may finish; a stuck one does not hold `make run` open

log = get_logger("api.server")


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
