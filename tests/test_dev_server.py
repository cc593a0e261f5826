"""The embedded Temporal dev server, `python -m stack`, and the settings they read."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType, WorkflowExecutionStatus
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from config.search_attributes import CLI_TYPE_NAMES, JOURNEY_SEARCH_ATTRIBUTES, search_attribute_cli_flags
from config.settings import Settings, SettingsError, load_settings
from stack import run as run_module
from stack.services import Stack
from workers.dev_server import (
    DevServer,
    DevServerError,
    PortCollision,
    StartPanicked,
    dev_server_command,
    find_temporal_binary,
    free_port,
    port_accepts_connections,
)
from workers.dev_server_pid_file import DevServerPid, pid_file, read_pid_file

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def write_script(path: Path, body: str) -> Path:
    """A stand-in for the `temporal` binary: a Python script run by this interpreter."""
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TRIALFLOW_* variables from the developer's shell in settings tests."""
    for name in list(os.environ):
        if name.startswith("TRIALFLOW_"):
            monkeypatch.delenv(name)


# ---------------------------------------------------------------- search attributes and the command line


def test_the_journey_search_attributes_are_the_ones_the_workflow_needs() -> None:
    assert {(key.name, CLI_TYPE_NAMES[key.indexed_value_type]) for key in JOURNEY_SEARCH_ATTRIBUTES} == {
        ("TrialPhase", "Keyword"),
        ("NextDueDate", "Datetime"),
        ("Overdue", "Bool"),
        ("ExpeditedReportOpen", "Bool"),
        ("HighestCrsGrade", "Int"),
        ("HighestIcansGrade", "Int"),
        ("ProtocolVersion", "Keyword"),
    }


def test_the_command_is_persistent_on_loopback_and_registers_every_search_attribute(tmp_path: Path) -> None:
    command = dev_server_command(
        Path("/opt/temporal"),
        db_file=tmp_path / "t.db",
        ip=LOOPBACK,
        port=7001,
        ui_port=8001,
        namespace="trial",
    )

    assert command[:3] == ["/opt/temporal", "server", "start-dev"]
    options = dict(zip(command[3::2], command[4::2], strict=False))
    assert options["--db-filename"] == str(tmp_path / "t.db")
    assert options["--ip"] == LOOPBACK
    assert options["--port"] == "7001"
    assert options["--ui-port"] == "8001"
    assert options["--namespace"] == "trial"
    registered = [command[i + 1] for i, flag in enumerate(command) if flag == "--search-attribute"]
    assert registered == [f"{key.name}={CLI_TYPE_NAMES[key.indexed_value_type]}" for key in JOURNEY_SEARCH_ATTRIBUTES]
    assert search_attribute_cli_flags()[1::2] == registered


# ---------------------------------------------------------------- finding the binary


def test_the_binary_beside_the_interpreter_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv_bin, elsewhere = tmp_path / "venv-bin", tmp_path / "elsewhere"
    venv_bin.mkdir()
    elsewhere.mkdir()
    beside = write_script(venv_bin / "temporal", "")
    write_script(elsewhere / "temporal", "")
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    monkeypatch.setenv("PATH", str(elsewhere))

    assert find_temporal_binary() == beside


def test_the_binary_on_path_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = write_script(tmp_path / "temporal", "")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-venv" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))

    assert find_temporal_binary() == on_path


def test_a_missing_binary_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(DevServerError, match="make install"):
        find_temporal_binary()


def test_the_real_binary_is_installed_beside_this_interpreter() -> None:
    assert find_temporal_binary() == Path(sys.executable).parent / "temporal"


# ---------------------------------------------------------------- start-up failures


async def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = DevServer(data_dir=tmp_path, port=port, ui_port=free_port())

        with pytest.raises(DevServerError, match=f"{port} is already in use") as raised:
            await server.start()
        assert not server.running
    # Named, since this user may see it: the process listening (this one), not a dev server of the data folder.
    assert f"in use by another program (process {os.getpid()}" in str(raised.value)
    assert "not by a dev server of this data folder" in str(raised.value)


async def test_a_data_folder_whose_server_runs_is_refused_and_a_pid_file_of_a_dead_server_is_cleared(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    # Ports picked at each start: `second` starts long after it is made, and another test's server may have
    # taken ports picked then (seen in a full run).
    running = DevServer(data_dir=data_dir, pick_free_ports=True)
    second = DevServer(data_dir=data_dir, pick_free_ports=True)
    async with running:
        recorded = read_pid_file(data_dir)
        assert recorded is not None and recorded.pid == running.pid and recorded.owner_pid == os.getpid()
        # Its owner (this process) still runs it: never stopped from under it.
        with pytest.raises(DevServerError, match="is in use by a running trialflow") as raised:
            await second.start()
        assert f"`kill {os.getpid()}`" in str(raised.value)
        assert running.running and port_accepts_connections(LOOPBACK, running.port)
    assert read_pid_file(data_dir) is None  # a clean stop takes its pid file away

    # A pid file naming a process that has ended (a run killed with its server): removed, and the start goes on.
    ended = await asyncio.create_subprocess_exec("true")
    await ended.wait()
    stale = DevServerPid(ended.pid, ended.pid, 0.0, str(second.db_file.resolve()))
    pid_file(data_dir).write_text(json.dumps(dataclasses.asdict(stale)))
    async with second:
        recorded = read_pid_file(data_dir)
        assert recorded is not None and recorded.pid == second.pid


async def test_a_server_that_exits_while_starting_shows_its_last_output(tmp_path: Path) -> None:
    binary = write_script(
        tmp_path / "temporal",
        "import sys\nprint('starting up')\nprint('unable to open database file', file=sys.stderr)\nsys.exit(3)\n",
    )
    server = DevServer(data_dir=tmp_path / "data", port=free_port(), ui_port=free_port(), binary=binary)

    with pytest.raises(DevServerError, match="exited with code 3") as raised:
        await server.start()
    assert "unable to open database file" in str(raised.value)
    assert "starting up" in str(raised.value)
    assert not server.running


# A server whose bind meets a port another process took first (Go's words), the first two times it starts; it
# serves the third time. The attempts are counted in a file beside it.
COLLIDES_TWICE = (
    "import pathlib, socket, sys, time\n"
    "count = pathlib.Path(sys.argv[0]).with_name('attempts')\n"
    "attempt = int(count.read_text()) + 1 if count.exists() else 1\n"
    "count.write_text(str(attempt))\n"
    "if attempt < 3:\n"
    "    print('listen tcp 127.0.0.1:40001: bind: address already in use', file=sys.stderr)\n"
    "    sys.exit(1)\n"
    "port = int(sys.argv[sys.argv.index('--port') + 1])\n"
    "listener = socket.create_server(('127.0.0.1', port))\n"
    "time.sleep(60)\n"
)


async def _serves_at_attempt(tmp_path: Path, script: str, attempt: int) -> Path:
    """The fake server `script`, started on fresh ports: it serves at start `attempt` (counted beside it); its path."""
    binary = write_script(tmp_path / "temporal", script)
    server = DevServer(data_dir=tmp_path / "data", binary=binary, pick_free_ports=True, stop_timeout=1)
    try:
        await server.start()
        assert server.running and (tmp_path / "attempts").read_text() == str(attempt)
        assert port_accepts_connections(LOOPBACK, server.port)
    finally:
        await server.stop()
    return binary


async def test_a_port_taken_while_starting_is_tried_again_on_fresh_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DevServer, "_serving", lambda self: _always_serving())
    binary = await _serves_at_attempt(tmp_path, COLLIDES_TWICE, 3)

    # Given fixed ports, a collision on one of the server's own is still tried again; three in a row are reported.
    (tmp_path / "attempts").write_text("-5")
    fixed = DevServer(data_dir=tmp_path / "data", binary=binary, port=free_port(), ui_port=free_port())
    with pytest.raises(PortCollision, match="address already in use"):
        await fixed.start()
    assert (tmp_path / "attempts").read_text() == "-2"


# The same collision as Go reports it for a port the server picked for itself: a panic whose first line says why,
# then a trace longer than the output the server keeps (exit code 2, Go's for a panic).
PANICS_ONCE_WITH_A_LONG_TRACE = (
    "import pathlib, socket, sys, time\n"
    "count = pathlib.Path(sys.argv[0]).with_name('attempts')\n"
    "attempt = int(count.read_text()) + 1 if count.exists() else 1\n"
    "count.write_text(str(attempt))\n"
    "if attempt < 2:\n"
    "    print('panic: listen tcp 127.0.0.1:40002: bind: address already in use', file=sys.stderr)\n"
    "    for frame in range(100):\n"
    "        print(f'go.uber.org/fx.frame{frame}(...)', file=sys.stderr)\n"
    "    sys.exit(2)\n"
    "port = int(sys.argv[sys.argv.index('--port') + 1])\n"
    "listener = socket.create_server(('127.0.0.1', port))\n"
    "time.sleep(60)\n"
)


async def test_a_panic_whose_trace_hides_the_collision_is_still_tried_again_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DevServer, "_serving", lambda self: _always_serving())
    binary = await _serves_at_attempt(tmp_path, PANICS_ONCE_WITH_A_LONG_TRACE, 2)

    # Given fixed ports and no attempts left, the error leads with the panic's own line.
    (tmp_path / "attempts").write_text("-5")
    fixed = DevServer(data_dir=tmp_path / "data", binary=binary, port=free_port(), ui_port=free_port())
    with pytest.raises(PortCollision) as raised:
        await fixed.start()
    assert "exited with code 2 while starting; panic: listen tcp 127.0.0.1:40002: bind" in str(raised.value)


async def test_a_panic_for_another_reason_is_tried_again_then_reported_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DevServer, "_serving", lambda self: _always_serving())
    script = PANICS_ONCE_WITH_A_LONG_TRACE.replace("listen tcp 127.0.0.1:40002: bind: address already in use", "boom")
    binary = await _serves_at_attempt(tmp_path, script, 2)

    (tmp_path / "attempts").write_text("-5")  # panics every time: three starts, then its own words
    again = DevServer(data_dir=tmp_path / "data", binary=binary, pick_free_ports=True)
    with pytest.raises(StartPanicked, match="exited with code 2 while starting; panic: boom"):
        await again.start()
    assert (tmp_path / "attempts").read_text() == "-2"


NEVER_LISTENS = "import time\nprint('waiting', flush=True)\ntime.sleep(60)\n"
# The real server opens its port before its frontend is healthy; a client connecting then is refused
# ("Frontend is not healthy yet"). A port that accepts TCP but answers no gRPC must not count as ready.
LISTENS_BUT_SERVES_NO_GRPC = (
    "import socket, sys, time\n"
    "port = int(sys.argv[sys.argv.index('--port') + 1])\n"
    "listener = socket.create_server(('127.0.0.1', port))\n"
    "print('listening', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.mark.parametrize(
    ("script", "printed", "startup_timeout"),
    [(NEVER_LISTENS, "waiting", 0.5), (LISTENS_BUT_SERVES_NO_GRPC, "listening", 2)],
    ids=["never-listens", "listens-but-serves-no-grpc"],
)
async def test_a_server_that_never_serves_times_out_and_is_stopped(
    tmp_path: Path, script: str, printed: str, startup_timeout: float
) -> None:
    binary = write_script(tmp_path / "temporal", script)
    server = DevServer(
        data_dir=tmp_path / "data",
        port=free_port(),
        ui_port=free_port(),
        binary=binary,
        startup_timeout=startup_timeout,
    )

    # The script would wait a minute: only the start-up timeout can end this before the guard does.
    with pytest.raises(DevServerError, match="was not serving") as raised:
        await asyncio.wait_for(server.start(), timeout=30)
    assert printed in str(raised.value)
    assert not server.running


async def _always_serving() -> bool:
    return True


async def test_a_server_that_ignores_sigterm_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Listens like a server, but ignores SIGTERM: stop() must escalate.
    binary = write_script(
        tmp_path / "temporal",
        "import signal, socket, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "port = int(sys.argv[sys.argv.index('--port') + 1])\n"
        "listener = socket.create_server(('127.0.0.1', port))\n"
        "time.sleep(60)\n",
    )
    server = DevServer(
        data_dir=tmp_path / "data", port=free_port(), ui_port=free_port(), binary=binary, stop_timeout=0.3
    )
    monkeypatch.setattr(server, "_serving", _always_serving)  # the plain listener stands in for a frontend
    await server.start()
    process = server._process
    assert process is not None

    await server.stop()

    assert process.returncode == -signal.SIGKILL
    assert not server.running


# ---------------------------------------------------------------- the real dev server


async def test_the_dev_server_registers_search_attributes_and_keeps_workflows_across_restarts(
    tmp_path: Path,
) -> None:
    server = DevServer(data_dir=tmp_path / "data", port=free_port(), ui_port=free_port())
    workflow_id = "TF-RESTART-001"

    async with server:
        assert server.db_file.is_file()
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=server.namespace)
        )
        for key in JOURNEY_SEARCH_ATTRIBUTES:
            assert listed.custom_attributes.get(key.name) == IndexedValueType.ValueType(key.indexed_value_type)
        # No worker: the workflow just waits for one, which is all this test needs.
        await client.start_workflow(
            "NoWorkerForThisWorkflow",
            id=workflow_id,
            task_queue="nobody-polls-this-queue",
            execution_timeout=timedelta(days=1),
        )
    assert not server.running
    assert not port_accepts_connections(LOOPBACK, server.port)

    async with server:
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        description = await client.get_workflow_handle(workflow_id).describe()
        assert description.workflow_type == "NoWorkerForThisWorkflow"
        assert description.raw_description.workflow_execution_info.status == (
            WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
        )


# ---------------------------------------------------------------- python -m stack


@pytest.fixture
def run_environment(tmp_path: Path) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TRIALFLOW_")}
    environment |= {
        "TRIALFLOW_DATA_DIR": str(tmp_path / "data"),
        "TRIALFLOW_TEMPORAL_PORT": str(free_port()),
        "TRIALFLOW_TEMPORAL_UI_PORT": str(free_port()),
        "TRIALFLOW_API_PORT": str(free_port()),
        "TRIALFLOW_LOG_FORMAT": "json",
    }
    return environment


# Bounds on a hang of the whole stack's start or stop on a loaded machine, never a claim about speed.
STACK_SECONDS = 120


def stop_stack(process: subprocess.Popen[str]) -> None:
    """Whatever the test saw, the stack stops, and the dev server with it (in its own session, only the stack's
    clean stop reaches it): SIGTERM first, SIGKILL only if the stack does not stop."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STACK_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def read_lines_in_background(stream: object) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def wait_for_line(lines: queue.Queue[str], containing: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            break
        if containing in seen[-1]:
            return seen
    raise AssertionError(f"no line containing {containing!r} within {timeout} s; saw {seen}")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_make_run_prints_the_addresses_serves_and_stops_cleanly(
    run_environment: dict[str, str], tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port, ui_port = run_environment["TRIALFLOW_TEMPORAL_PORT"], run_environment["TRIALFLOW_TEMPORAL_UI_PORT"]
    process = subprocess.Popen(
        [sys.executable, "-m", "stack"],
        cwd=REPO_ROOT,
        env=run_environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout = read_lines_in_background(process.stdout)
        printed = "\n".join(wait_for_line(stdout, "Data directory", timeout=STACK_SECONDS))
        assert f"Temporal gRPC:    {LOOPBACK}:{port}" in printed
        assert f"Temporal Web UI:  http://{LOOPBACK}:{ui_port}" in printed
        assert port_accepts_connections(LOOPBACK, int(port))
        deadline = time.monotonic() + STACK_SECONDS
        while not port_accepts_connections(LOOPBACK, int(ui_port)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert port_accepts_connections(LOOPBACK, int(ui_port))
        assert (tmp_path / "data" / "temporal.db").is_file()

        process.send_signal(stop_signal)
        returncode = process.wait(timeout=STACK_SECONDS)
    finally:
        stop_stack(process)
    stderr = process.stderr.read() if process.stderr else ""
    assert returncode == 0, stderr
    assert '"event": "stopped"' in stderr
    assert not port_accepts_connections(LOOPBACK, int(port))


def test_make_run_with_the_port_taken_exits_1_and_says_why(run_environment: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, int(run_environment["TRIALFLOW_TEMPORAL_PORT"])))
        taken.listen()
        finished = subprocess.run(
            [sys.executable, "-m", "stack"],
            cwd=REPO_ROOT,
            env=run_environment,
            capture_output=True,
            text=True,
            timeout=STACK_SECONDS,
        )
    assert finished.returncode == 1
    assert "already in use" in finished.stderr


def test_make_run_with_bad_settings_exits_2_naming_every_bad_variable(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRIALFLOW_TEMPORAL_PORT", "seven")
    monkeypatch.setenv("TRIALFLOW_LOG_FORMAT", "xml")

    assert run_module.main() == 2

    message = capsys.readouterr().err
    assert "TRIALFLOW_TEMPORAL_PORT" in message
    assert "TRIALFLOW_LOG_FORMAT" in message


async def test_a_failing_service_stops_the_stack_and_the_server(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, data_dir=tmp_path / "data", temporal_port=free_port(), temporal_ui_port=free_port()
    )
    seen: list[Stack] = []

    async def broken_worker(stack: Stack, ready: asyncio.Event) -> None:
        seen.append(stack)
        raise RuntimeError("worker could not start")

    with pytest.raises(ExceptionGroup) as raised:
        await run_module.run_stack(settings, asyncio.Event(), services=[broken_worker], announce=lambda _: None)
    assert raised.group_contains(RuntimeError, match="worker could not start")
    [stack] = seen
    assert stack.temporal_address == f"{LOOPBACK}:{settings.temporal_port}"
    assert not port_accepts_connections(LOOPBACK, settings.temporal_port)


# ---------------------------------------------------------------- settings


def test_the_settings_defaults(clean_env: None) -> None:
    settings = Settings(_env_file=None)

    assert settings.temporal_address == "localhost:7233"
    assert settings.temporal_namespace == "default"
    assert settings.data_dir == Path(".data")
    assert (settings.temporal_port, settings.temporal_ui_port) == (7233, 8233)
    assert settings.database_url == "sqlite:///.data/trial-record.db"
    assert (settings.log_format, settings.log_level) == ("auto", "INFO")


def test_settings_come_from_trialflow_variables(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIALFLOW_DATA_DIR", "/srv/trialflow")
    monkeypatch.setenv("TRIALFLOW_TEMPORAL_PORT", "7300")
    monkeypatch.setenv("TRIALFLOW_LOG_LEVEL", "debug")
    monkeypatch.setenv("TRIALFLOW_LOG_FORMAT", "JSON")

    settings = Settings(_env_file=None)

    assert settings.data_dir == Path("/srv/trialflow")
    assert settings.temporal_port == 7300
    assert settings.database_url == "sqlite:////srv/trialflow/trial-record.db"
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")


def test_an_explicit_database_url_wins(clean_env: None) -> None:
    url = "postgresql+psycopg://trialflow@db/trial_record"
    assert Settings(_env_file=None, database_url=url).database_url == url


def test_invalid_settings_name_every_bad_variable(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIALFLOW_TEMPORAL_PORT", "0")
    monkeypatch.setenv("TRIALFLOW_TEMPORAL_UI_PORT", "eighty")
    monkeypatch.setenv("TRIALFLOW_LOG_LEVEL", "chatty")
    monkeypatch.setenv("TRIALFLOW_TEMPORAL_NAMESPACE", "")

    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)

    message = str(raised.value)
    for name in ("TEMPORAL_PORT", "TEMPORAL_UI_PORT", "LOG_LEVEL", "TEMPORAL_NAMESPACE"):
        assert f"TRIALFLOW_{name}:" in message
    assert "TRIALFLOW_DATA_DIR" not in message


def test_a_bad_database_url_is_named_but_never_echoed(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, database_url=["postgresql://u:s3cret@db/x"])

    assert "TRIALFLOW_DATABASE_URL" in str(raised.value)
    assert "s3cret" not in str(raised.value)
