"""The compose stack's entry points, run as the containers run them: `python -m records migrate|check` (the migrate
job) and `python -m api` (the API service), each a real process configured by TRIALFLOW_* variables only."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy.engine import URL

from records.migrate import head_revision
from security.auth import hash_token
from tests.processes import stops_with_the_tests
from tests.servers import Stack
from tests.waiting import poll
from workers.dev_server import free_port

PROCESS_LIMIT_SECONDS = 120  # a bound on a hung process, never a measure of speed
SUPERVISOR_TOKEN = "entry-point-supervisor-token"


async def until_the_api_answers(http: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    """Poll `/healthz` of a `python -m api` the test started until it answers; its early exit fails at once."""

    async def healthy() -> bool | None:
        if process.returncode is not None:
            raise AssertionError(f"python -m api exited with {process.returncode}")
        try:
            return (await http.get("/healthz")).status_code == 200 or None
        except httpx.TransportError:
            return None

    await poll(healthy, "python -m api answers", within_seconds=PROCESS_LIMIT_SECONDS)


def process_environment(**settings: str) -> dict[str, str]:
    """This environment without any TRIALFLOW_ variable of the caller's, plus `settings` (as TRIALFLOW_<NAME>)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TRIALFLOW_")}
    environment.update({f"TRIALFLOW_{name.upper()}": value for name, value in settings.items()})
    return environment


def run_module(*arguments: str, cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *arguments],
        cwd=cwd,  # no .env of the repository is read
        env=process_environment(**settings),
        capture_output=True,
        text=True,
        timeout=PROCESS_LIMIT_SECONDS,
        check=False,
    )


# ------------------------------------------------------------------ python -m records


def test_records_check_refuses_an_unmigrated_database_then_migrate_brings_it_to_head(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'record.db'}"

    unmigrated = run_module("records", "check", cwd=tmp_path, database_url=database_url)
    assert unmigrated.returncode == 1
    assert head_revision() in unmigrated.stderr and "python -m records migrate" in unmigrated.stderr

    for _ in range(2):  # idempotent: a second run (a restarted job) changes nothing and succeeds
        migrated = run_module("records", "migrate", cwd=tmp_path, database_url=database_url)
        assert migrated.returncode == 0, migrated.stderr
        assert migrated.stdout.strip().endswith(f"is at schema revision {head_revision()}")

    checked = run_module("records", "check", cwd=tmp_path, database_url=database_url)
    assert checked.returncode == 0, checked.stderr


def test_records_migrate_brings_a_postgresql_database_to_head(
    fresh_postgres_database: URL,
    tmp_path: Path,
) -> None:
    database_url = fresh_postgres_database.render_as_string(hide_password=False)

    migrated = run_module("records", "migrate", cwd=tmp_path, database_url=database_url)

    assert migrated.returncode == 0, migrated.stderr
    assert head_revision() in migrated.stdout
    assert run_module("records", "check", cwd=tmp_path, database_url=database_url).returncode == 0


def test_records_migrate_says_why_an_unreachable_database_failed_without_its_password(tmp_path: Path) -> None:
    database_url = f"postgresql+psycopg://trialflow:hunter2-secret@127.0.0.1:{free_port()}/trial_record"

    failed = run_module("records", "migrate", cwd=tmp_path, database_url=database_url)

    assert failed.returncode == 1
    assert "cannot migrate the trial record at postgresql+psycopg://trialflow:***@127.0.0.1" in failed.stderr
    assert "hunter2" not in failed.stderr + failed.stdout
    assert "Traceback" not in failed.stderr


def test_records_refuses_invalid_configuration_naming_the_variable(tmp_path: Path) -> None:
    refused = run_module("records", "migrate", cwd=tmp_path, log_level="loud", log_format="colourful")

    assert refused.returncode == 2
    assert "TRIALFLOW_LOG_LEVEL" in refused.stderr and "TRIALFLOW_LOG_FORMAT" in refused.stderr


def test_records_requires_a_command(tmp_path: Path) -> None:
    assert run_module("records", cwd=tmp_path).returncode == 2


# ------------------------------------------------------------------ python -m api


def tokens_document() -> str:
    return json.dumps([{"sha256": hash_token(SUPERVISOR_TOKEN), "user_id": "supervisor.ng", "role": "supervisor"}])


async def test_the_api_serves_the_configured_temporal_and_record_until_sigterm(
    stack: Stack,
    tmp_path: Path,
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        preexec_fn=stops_with_the_tests,
        cwd=tmp_path,
        env=process_environment(
            temporal_address=stack.server.address,
            database_url=f"sqlite:///{tmp_path / 'record.db'}",
            api_tokens=tokens_document(),
            log_format="json",
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await until_the_api_answers(http, process)
            supervisor = {"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}
            assert (await http.get("/patients/EP-9999", headers=supervisor)).status_code == 404
            assert (await http.get("/report", headers=supervisor)).status_code == 200
            assert (await http.get("/report")).status_code == 401
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), PROCESS_LIMIT_SECONDS)

    assert process.returncode == 0, output.decode()
    events = [json.loads(line)["event"] for line in output.decode().splitlines() if line.startswith("{")]
    assert events.index("api_started") < events.index("api_stopped")


def test_the_api_refuses_a_broken_token_configuration_naming_every_problem(tmp_path: Path) -> None:
    broken = json.dumps([{"sha256": "not-a-hash", "user_id": "x", "role": "system"}])

    refused = run_module("api", cwd=tmp_path, api_tokens=broken)

    assert refused.returncode == 2
    assert "tokens.0.sha256" in refused.stderr and "tokens.0.role" in refused.stderr


def test_the_api_says_it_cannot_reach_temporal(tmp_path: Path) -> None:
    failed = run_module(
        "api",
        "--port",
        str(free_port()),
        cwd=tmp_path,
        temporal_address=f"127.0.0.1:{free_port()}",
        database_url=f"sqlite:///{tmp_path / 'record.db'}",
        api_tokens=tokens_document(),
    )

    assert failed.returncode == 1
    assert "error: the API could not start" in failed.stderr and "Traceback" not in failed.stderr


def test_the_api_refuses_a_port_out_of_range(tmp_path: Path) -> None:
    refused = run_module("api", "--port", "70000", cwd=tmp_path)

    assert refused.returncode == 2 and "not a port number" in refused.stderr
