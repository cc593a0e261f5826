"""`python -m api`: the HTTP API as a process of its own (the compose stack's `api` service), until SIGTERM or Ctrl-C.

`make run` serves the same app inside the embedded stack (api/server.py); this one dials the configured Temporal
and trial record. It binds to loopback unless told otherwise: a container passes `--host 0.0.0.0`, and its
published port (127.0.0.1 in docker-compose.yml) is what guards it.
Exit codes: 0 stopped cleanly, 1 could not start (Temporal unreachable, port taken), 2 invalid configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from api.app import create_app
from api.server import DEFAULT_API_HOST, serve
from config.process_exit import exit_without_finalizing
from config.production import check_production_settings
from config.settings import Settings, SettingsError
from config.startup import load_checked_settings
from facade import open_trial_client
from notifications.from_settings import check_notification_settings
from observability.logging import configure_logging, get_logger
from security import payload_keyring
from security.auth import Authenticator
from security.configured_keys import checkpoint_log, seal_keyring
from security.token_file import authenticator_for
from web import web_config_for

log = get_logger("api.main")


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api", description="Serve the trialflow HTTP API.")
    parser.add_argument("--host", default=DEFAULT_API_HOST, help=f"address to bind (default {DEFAULT_API_HOST})")
    parser.add_argument("--port", type=_port, help="port to bind (default TRIALFLOW_API_PORT, 8000)")
    return parser


async def run_api(settings: Settings, auth: Authenticator, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve over a trial client of the configured Temporal and record until `stop` is set; open requests finish."""
    async with open_trial_client(settings) as trial:
        app = create_app(trial, auth, max_body_bytes=settings.api_max_body_bytes, web=web_config_for(settings))
        serving = asyncio.create_task(serve(app, host, port), name="api")
        stopping = asyncio.create_task(stop.wait(), name="api-stop")
        try:
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving  # re-raises why it ended on its own, e.g. the port in use


async def _serve_until_signalled(settings: Settings, auth: Authenticator, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for received in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(received, stop.set)
    await run_api(settings, auth, host, port, stop)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = argument_parser().parse_args(argv)
    try:
        # A broken setting, token file or key stops the start, naming every problem.
        settings = load_checked_settings(
            authenticator_for,
            payload_keyring,
            seal_keyring,
            checkpoint_log,
            check_notification_settings,
            check_production_settings,
        )
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    auth = authenticator_for(settings)
    configure_logging(settings.log_format, settings.log_level)
    if not auth.configured:
        log.warning(
            "api_no_tokens", hint="`trial admin token new --user <id> --role <role>` makes one; until then, 401"
        )
    port = arguments.port or settings.api_port
    try:
        asyncio.run(_serve_until_signalled(settings, auth, arguments.host, port))
    except (OSError, RuntimeError, SQLAlchemyError) as error:  # Temporal or the record unreachable, the port taken
        print(f"error: the API could not start on {arguments.host}:{port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    exit_without_finalizing(main())  # the SDK's threads can crash a finalizing interpreter
