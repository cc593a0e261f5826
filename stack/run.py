"""`make run`: the persistent Temporal dev server with its Web UI, then every service of stack/services.py,
until Ctrl-C or SIGTERM, then a clean stop."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from functools import partial

from sqlalchemy import make_url

from api.codec_server import CodecServerSettings
from api.server import api_url
from config.journey_ids import TASK_QUEUE
from config.production import check_production_settings
from config.settings import Settings, SettingsError
from config.startup import load_checked_settings
from notifications.from_settings import check_notification_settings
from observability.logging import configure_logging, get_logger
from security import payload_keyring
from security.configured_keys import (
    checkpoint_log,
    seal_keyring,
    with_checkpoint_keys,
    with_payload_keys,
    with_seal_keys,
)
from security.token_file import authenticator_for
from stack.services import SERVICES, Service, Stack, codec_service, codec_url, service_name
from stack.supervisor import supervised
from workers.dev_server import DevServer, DevServerError

log = get_logger("stack.run")

# The stack runs every process in one: it reads the API tokens, the staff directory and the payload keys.
CONFIGURATION_CHECKS = (
    authenticator_for,
    check_notification_settings,
    payload_keyring,
    seal_keyring,
    checkpoint_log,
    check_production_settings,
)


def describe(stack: Stack) -> str:
    """The lines `make run` prints once everything is up."""
    settings = stack.settings
    return "\n".join(
        [
            "trialflow is running. Ctrl-C to stop.",
            f"  Temporal gRPC:    {stack.temporal_address}  (namespace {stack.temporal_namespace})",
            f"  Temporal Web UI:  {stack.temporal_ui_url}",
            f"  Data directory:   {settings.data_dir}  (Temporal: {settings.temporal_db_file.name})",
            f"  Trial record:     {make_url(settings.database_url).render_as_string(hide_password=True)}",
            f"  Journey worker:   task queue {TASK_QUEUE}  (a process of its own, started again if it dies)",
            f"  Web app:          {api_url(settings.api_port)}/  (sign in with `trial admin token new`'s token)",
            f"  HTTP API:         {api_url(settings.api_port)}  (OpenAPI docs: /docs)",
            f"  Codec server:     {codec_url(CodecServerSettings())}  (payloads are encrypted; it decodes them for "
            "staff with an API token)",
        ]
    )


async def _all_set(events: Sequence[asyncio.Event]) -> None:
    for event in events:
        await event.wait()


async def run_stack(
    settings: Settings,
    stop: asyncio.Event,
    services: Sequence[Service] = SERVICES,
    announce: Callable[[str], None] = lambda text: print(text, flush=True),
) -> None:
    """Start the dev server, then every service; announce once all serve; when `stop` is set, stop them all."""
    dev_server = DevServer.from_settings(settings)
    if codec_service in services:  # the Web UI decodes through it, for staff with an API token
        dev_server.ui_codec_endpoint = codec_url(CodecServerSettings())
    async with dev_server as server:
        stack = Stack(
            settings=settings,
            temporal_address=server.address,
            temporal_namespace=server.namespace,
            temporal_ui_url=server.ui_url,
        )
        # A failing service cancels its siblings and the wait below; the server still stops on the way out.
        async with asyncio.TaskGroup() as group:
            readiness = [asyncio.Event() for _ in services]
            # Each is started again if it dies after it served (stack/supervisor.py).
            tasks = [
                group.create_task(supervised(service_name(service), partial(service, stack), ready))
                for service, ready in zip(services, readiness, strict=True)
            ]
            # The addresses are printed only when they answer (Ctrl-C while starting stops at once).
            all_ready = asyncio.create_task(_all_set(readiness))
            stopping = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait([all_ready, stopping], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in (all_ready, stopping):
                    waiting.cancel()
                await asyncio.gather(all_ready, stopping, return_exceptions=True)
            if not stop.is_set():
                announce(describe(stack))
            await stop.wait()
            log.info("stopping")
            for task in tasks:
                task.cancel()


async def _serve(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop(received: signal.Signals) -> None:
        if stop.is_set():
            log.info("already_stopping", signal=received.name)
        stop.set()

    # SIGHUP too: a closed terminal must not leave the server (in its own session) running.
    for received in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(received, request_stop, received)
    try:
        await run_stack(settings, stop)
    except DevServerError as error:
        log.error("dev_server_failed", error=str(error))
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    log.info("stopped")
    return 0


def main() -> int:
    try:
        settings = load_checked_settings(*CONFIGURATION_CHECKS)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    return asyncio.run(_serve(with_checkpoint_keys(with_seal_keys(with_payload_keys(settings)))))
