"""`make run` itself, as a new user runs it: it starts, enrolls a patient through the HTTP API, stops cleanly on
Ctrl-C, and after a second `make run` on the same data directory the patient is still there with its state."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from api.token_file import DEFAULT_TOKEN_FILE_NAME, TokenFile
from domain.journey.phases import Phase
from domain.roles import Actor, Role
from tests.api.test_api import consent, enrollment_body
from tests.test_dev_server import LOOPBACK, free_port, port_accepts_connections

REPO_ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 60.0


@asynccontextmanager
async def make_run(environment: dict[str, str]) -> AsyncIterator[list[str]]:
    """`make run` in its own process group, until the block ends; then Ctrl-C (SIGINT to the group), as a terminal
    sends it. Yields the lines it printed so far; checks it stopped cleanly."""
    process = await asyncio.create_subprocess_exec(
        "make",
        "--no-print-directory",
        "-s",
        "run",
        cwd=REPO_ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + START_SECONDS
        while not any("HTTP API:" in line for line in lines):  # the last address printed
            line = await asyncio.wait_for(process.stdout.readline(), timeout=max(deadline - time.monotonic(), 0.1))
            assert line, "make run exited before it was running:\n" + "".join(lines)
            lines.append(line.decode())
        yield lines
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        lines.extend(rest.decode().splitlines(keepends=True))
    output = "".join(lines)
    assert "trialflow is running" in output, output
    # Every part logs its clean stop (JSON lines), the dev server last.
    for stopped in ('"event": "api_stopped"', '"event": "dev_server_stopped"', '"event": "stopped"'):
        assert stopped in output, output
    assert "Traceback" not in output, output


def _address(lines: list[str], label: str) -> str:
    match = re.search(rf"{label}:\s+(\S+)", "".join(lines))
    assert match, f"make run printed no {label}"
    return match.group(1)


async def test_make_run_keeps_a_patient_across_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    temporal_port, ui_port, api_port = free_port(), free_port(), free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TRIALFLOW_")}
    environment |= {
        "TRIALFLOW_DATA_DIR": str(data_dir),
        "TRIALFLOW_TEMPORAL_PORT": str(temporal_port),
        "TRIALFLOW_TEMPORAL_UI_PORT": str(ui_port),
        "TRIALFLOW_API_PORT": str(api_port),
        "TRIALFLOW_LOG_FORMAT": "json",
    }
    # What `trial token new` writes: the running API reads the file.
    tokens = TokenFile(data_dir / DEFAULT_TOKEN_FILE_NAME)
    coordinator = {"Authorization": "Bearer " + tokens.add(Actor(user_id="rc.zhao", role=Role.RESEARCH_COORDINATOR))}
    investigator = {"Authorization": "Bearer " + tokens.add(Actor(user_id="dr.li", role=Role.INVESTIGATOR))}

    async with make_run(environment) as lines:
        api = _address(lines, "HTTP API")
        assert api == f"http://{LOOPBACK}:{api_port}"
        assert _address(lines, "Temporal Web UI") == f"http://{LOOPBACK}:{ui_port}"
        async with httpx.AsyncClient(base_url=api, timeout=30) as http:
            enrolled = await http.post("/patients", json=enrollment_body("MR-101"), headers=coordinator)
            assert enrolled.status_code == 201, enrolled.text
            for body in ({"kind": "confirm_eligibility"}, consent()):
                recorded = await http.post("/patients/MR-101/commands", json=body, headers=investigator)
                assert recorded.status_code == 200, recorded.text
            before = (await http.get("/patients/MR-101", headers=coordinator)).json()
    assert before["phase"] == Phase.APHERESIS
    # Stopped: nothing is left listening.
    for port in (temporal_port, ui_port, api_port):
        assert not port_accepts_connections(LOOPBACK, port), port

    async with make_run(environment) as lines, httpx.AsyncClient(base_url=_address(lines, "HTTP API")) as http:
        after = await http.get("/patients/MR-101", headers=coordinator)
        assert after.status_code == 200, after.text
        assert after.json() == before
        timeline = (await http.get("/patients/MR-101/timeline", headers=coordinator)).json()
        assert [entry["type"] for entry in timeline["entries"]][-2:] == ["eligibility_confirmed", "consent_signed"]
        # The journey goes on where it stood: the next step is accepted, a repeated one refused.
        again = await http.post("/patients/MR-101/commands", json=consent(), headers=investigator)
        assert again.status_code == 409, again.text
        listed = (await http.get("/patients", params={"phase": "apheresis"}, headers=coordinator)).json()
        assert [patient["study_id"] for patient in listed] == ["MR-101"]
