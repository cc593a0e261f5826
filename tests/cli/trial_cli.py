"""The `trial` app run in-process as a client of a real HTTP API (uvicorn on a free loopback port) in front of the
`stack` fixture's dev server, worker and record, each person signed in with a token of their own.

The API's token file is the one `trial admin token new` writes; each person signs in under a profile named after
them (`trial login --profile USER --token-stdin`), as several staff do on one machine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import structlog
from click.testing import Result
from fastapi import FastAPI
from typer.testing import CliRunner

from api.app import create_app
from api.server import api_url, serve
from cli.main import app
from domain.roles import Actor, Role
from observability.logging import configure_logging
from security.auth import Authenticator
from security.token_file import TokenFile
from simulation.journey_steps import printed_name
from tests.facade.journeys import SIGNING_PIN
from tests.servers import Stack
from workers.dev_server import free_port


@contextmanager
def worker_logs_kept_out_of_the_cli_output() -> Iterator[None]:
    """While the CLI runs, CliRunner swaps sys.stdout for the whole process: the worker logs to the real stderr."""
    with logging_restored():
        configure_logging("json", "WARNING", stream=sys.__stderr__)
        workflows = logging.getLogger("temporalio.workflow")
        workflows.addHandler(own := logging.StreamHandler(sys.__stderr__))
        workflows.propagate = False
        try:
            yield
        finally:
            workflows.removeHandler(own)
            workflows.propagate = True


@contextmanager
def logging_restored() -> Iterator[None]:
    """The CLI may configure logging for its process (ours): put the test process's back afterwards."""
    saved_structlog, root = structlog.get_config(), logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        yield
    finally:
        structlog.configure(**saved_structlog)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """`app` served by uvicorn on a free loopback port until the block ends; its URL."""
    port = free_port()
    started = asyncio.Event()
    serving = asyncio.create_task(serve(app, "127.0.0.1", port, started), name="test-api")
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        waiting.cancel()
        await serving  # its error
    try:
        yield api_url(port)
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


@dataclass(frozen=True)
class TrialCli:
    """`trial ...` with `env` (the API's URL, the config directory of the credentials, the profile)."""

    env: dict[str, str]
    token_file: TokenFile | None = None
    config_dir: Path | None = None
    profiles: dict[str, str] = field(default_factory=dict)  # user id -> profile signed in

    @property
    def api_url(self) -> str:
        return self.env["TRIALFLOW_API_URL"]

    async def __call__(self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
        def run() -> Result:
            with logging_restored():
                return CliRunner().invoke(
                    app, list(args), input=stdin, env={**self.env, **(env or {})}, catch_exceptions=False
                )

        # In a thread: the CLI blocks on HTTP while this loop serves the API and the worker.
        return await asyncio.to_thread(run)

    def token(self, user_id: str, role: Role, lifetime: timedelta = timedelta(days=90)) -> str:
        assert self.token_file is not None
        return self.token_file.issue(Actor(user_id=user_id, role=role), lifetime, printed_name(user_id))[0]

    async def signed_in(self, user_id: str, role: Role | str) -> TrialCli:
        """This CLI acting as `user_id`: a token issued for them with their printed name, `trial login --profile USER
        --token-stdin`, and their signing PIN set (`trial signing-pin --stdin`): SIGNING_PIN, given to `--pin-stdin`."""
        if user_id not in self.profiles:
            token = self.token(user_id, Role(role))
            login = await self("login", "--profile", user_id, "--token-stdin", stdin=token + "\n")
            assert login.exit_code == 0, login.output
            pin = await self("signing-pin", "--profile", user_id, "--stdin", stdin=SIGNING_PIN + "\n")
            assert pin.exit_code == 0, pin.output
            self.profiles[user_id] = user_id
        return TrialCli({**self.env, "TRIALFLOW_PROFILE": user_id}, self.token_file, self.config_dir, self.profiles)


@asynccontextmanager
async def trial_cli_over_api(
    stack: Stack, directory: Path, authenticator: Authenticator | None = None
) -> AsyncIterator[TrialCli]:
    """A CLI whose API serves `stack`; the credentials in `directory`/config, the API's tokens in its token file."""
    token_file = TokenFile(directory / "api-tokens.json")
    config_dir = directory / "config"
    async with served(create_app(stack.trial, authenticator or token_file)) as url:
        yield TrialCli(
            env={
                "TRIALFLOW_API_URL": url,
                "TRIALFLOW_CONFIG_DIR": str(config_dir),
                "TRIALFLOW_PROFILE": "",
                "COLUMNS": "200",  # rich tables wide enough that a reason is on one line
            },
            token_file=token_file,
            config_dir=config_dir,
        )
