"""`make run` supervises what it starts: a dev server an earlier run left on the data folder is stopped (and said
so) before the start, a journey worker that dies is started again and the journeys go on, and when `make run`'s
process is killed outright (SIGKILL) nothing it started is left behind: the next start on that folder just works."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import asdict
from pathlib import Path

import httpx
import psutil

from domain.roles import Actor, Role
from security.token_file import DEFAULT_TOKEN_FILE_NAME, TokenFile
from tests.api.test_api import consent, enrollment_body
from tests.make_run import MakeRun, MakeRunSetup, assert_stopped_cleanly, make_run, printed_address, started_make_run
from tests.processes import stops_with_the_tests
from tests.test_dev_server import LOOPBACK
from tests.waiting import poll
from workers.dev_server import dev_server_command, find_temporal_binary, port_accepts_connections
from workers.dev_server_pid_file import DevServerPid, listener_on, pid_file

PIN = "739164"


def staff_tokens(setup: MakeRunSetup) -> tuple[dict[str, str], dict[str, str]]:
    """A coordinator's and an investigator's headers (the running API reads the token file)."""
    tokens = TokenFile(setup.data_dir / DEFAULT_TOKEN_FILE_NAME)
    coordinator = tokens.add(Actor(user_id="rc.zhao", role=Role.RESEARCH_COORDINATOR))
    investigator = tokens.add(Actor(user_id="dr.li", role=Role.INVESTIGATOR), name="Li Ming, MD")
    return {"Authorization": f"Bearer {coordinator}"}, {"Authorization": f"Bearer {investigator}"}


async def gone(pid: int) -> bool | None:
    try:
        return True if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE else None
    except psutil.NoSuchProcess:
        return True


async def test_a_stale_dev_server_is_stopped_and_a_killed_worker_is_started_again(tmp_path: Path) -> None:
    setup = MakeRunSetup.in_folder(tmp_path)
    setup.data_dir.mkdir(parents=True)
    coordinator, investigator = staff_tokens(setup)
    # What a run killed where no parent-death signal exists leaves: its dev server serving this folder's database on
    # the stack's port, and the pid file naming it and an owner that has ended.
    db_file = setup.data_dir / "temporal.db"
    command = dev_server_command(
        find_temporal_binary(),
        db_file=db_file,
        ip=LOOPBACK,
        port=setup.temporal_port,
        ui_port=setup.ui_port,
        namespace="default",
    )
    stale = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, preexec_fn=stops_with_the_tests
    )
    try:

        async def listening() -> bool | None:
            return port_accepts_connections(LOOPBACK, setup.temporal_port) or None

        await poll(listening, "the stale dev server listens")
        ended_owner = await asyncio.create_subprocess_exec("true")
        await ended_owner.wait()
        pid_file(setup.data_dir).write_text(
            json.dumps(asdict(DevServerPid(stale.pid, ended_owner.pid, 0.0, str(db_file.resolve()))))
        )

        async with started_make_run(setup) as running:
            output = running.output()
            assert '"event": "stale_dev_server_stopped"' in output, output
            assert f"the Temporal dev server (process {stale.pid}) that an earlier run" in output, output
            await asyncio.wait_for(stale.wait(), timeout=30)
            assert json.loads(pid_file(setup.data_dir).read_text())["pid"] != stale.pid

            async with httpx.AsyncClient(base_url=printed_address(running.lines, "HTTP API"), timeout=60) as http:
                enrolled = await http.post("/patients", json=enrollment_body("SV-101"), headers=coordinator)
                assert enrolled.status_code == 201, enrolled.text
                pin = await http.put("/me/signing-pin", json={"new_pin": PIN}, headers=investigator)
                assert pin.status_code == 204, pin.text
                # The worker killed outright: the stack says who died and how, and starts it again.
                await _kill_the_worker(running)
                for body in ({"kind": "confirm_eligibility"}, consent()):
                    signed = {**body, "signature": {"pin": PIN, "meaning": "author"}}
                    recorded = await http.post("/patients/SV-101/commands", json=signed, headers=investigator)
                    assert recorded.status_code == 200, recorded.text
                status = (await http.get("/patients/SV-101", headers=coordinator)).json()
                assert status["phase"] == "apheresis", status
        assert_stopped_cleanly(running.output())
    finally:
        if stale.returncode is None:
            stale.kill()
            await stale.wait()


async def _kill_the_worker(running: MakeRun) -> None:
    worker = running.worker_process()
    worker.send_signal(signal.SIGKILL)

    async def restarted() -> bool | None:
        died = [json.loads(line) for line in running.lines if '"event": "service_died"' in line]
        if not died or '"event": "service_restarting"' not in running.output():
            return None
        assert died[0]["service"] == "journey_worker" and died[0]["exit_code"] == -signal.SIGKILL, died
        assert died[0]["how"] == "killed by SIGKILL" and died[0]["restart_in_seconds"] == 1.0, died
        return True

    await poll(restarted, "the killed worker started again", within_seconds=120)
    assert running.worker_process().pid != worker.pid


async def test_killing_make_runs_process_leaves_nothing_behind_and_the_next_start_works(tmp_path: Path) -> None:
    setup = MakeRunSetup.in_folder(tmp_path)
    async with started_make_run(setup) as running:
        await running.printed('"event": "worker started"', "the worker serving")
        stack = running.stack_process()
        started = [child.pid for child in stack.children()]
        assert len(started) == 2, [child.cmdline() for child in stack.children()]  # the dev server and the worker
        stack.send_signal(signal.SIGKILL)
        for pid in started:
            await poll(lambda pid=pid: gone(pid), f"process {pid} stopped with the killed stack")  # type: ignore[misc]
    for port in (setup.temporal_port, setup.ui_port, setup.api_port, setup.codec_port):
        assert not port_accepts_connections(LOOPBACK, port), f"{port} still taken: {listener_on(LOOPBACK, port)}"
    # The worker was told to stop (SIGTERM) and finished as on Ctrl-C.
    assert '"event": "worker stopping"' in running.output(), running.output()

    async with make_run(setup) as lines:
        assert "trialflow is running" in "".join(lines)
