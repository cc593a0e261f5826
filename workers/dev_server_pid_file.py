"""The dev server's pid file under its data folder: which process serves that folder's Temporal database, and which
process started it. A start reads it first, so a server an earlier run left behind (that run killed outright where
the parent-death signal does not exist, or before it could stop it) is stopped rather than blocking the port, while
a server still owned by a running stack, or another program on the port, is never touched."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

PID_FILE_NAME = "temporal-dev-server.pid"


class DataFolderInUse(RuntimeError):
    """The data folder's dev server belongs to a stack that is still running."""


@dataclass(frozen=True)
class DevServerPid:
    pid: int  # the dev server
    owner_pid: int  # the process that started it (`make run`, a test)
    owner_started_at: float  # the owner's start time: a pid the system gave to another process since is not it
    db_file: str  # the database it serves, absolute


def pid_file(data_dir: Path) -> Path:
    return data_dir / PID_FILE_NAME


def write_pid_file(data_dir: Path, server_pid: int, db_file: Path) -> None:
    owner = psutil.Process()
    entry = DevServerPid(server_pid, owner.pid, owner.create_time(), str(db_file.resolve()))
    path = pid_file(data_dir)
    path.write_text(json.dumps(asdict(entry)) + "\n", encoding="utf-8")


def remove_pid_file(data_dir: Path, server_pid: int) -> None:
    """Removed only while it names `server_pid` (another start may have written its own since)."""
    entry = read_pid_file(data_dir)
    if entry is not None and entry.pid == server_pid:
        with contextlib.suppress(FileNotFoundError):
            pid_file(data_dir).unlink()


def read_pid_file(data_dir: Path) -> DevServerPid | None:
    try:
        return DevServerPid(**json.loads(pid_file(data_dir).read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _alive(pid: int) -> psutil.Process | None:
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except psutil.Error:
        return None


def serves_database(process: psutil.Process, db_file: Path) -> bool:
    """`process` is a `temporal server start-dev` on `db_file` (its command line, read against its own folder)."""
    try:
        command, folder = process.cmdline(), Path(process.cwd())
    except psutil.Error:  # gone, or another user's: not ours to stop
        return False
    if "start-dev" not in command or "--db-filename" not in command[:-1]:
        return False
    served = Path(command[command.index("--db-filename") + 1])
    return (folder / served).resolve() == db_file.resolve()


def owner_running(entry: DevServerPid) -> bool:
    owner = _alive(entry.owner_pid)
    if owner is None:
        return False
    try:
        return abs(owner.create_time() - entry.owner_started_at) < 0.01
    except psutil.Error:
        return False


def clear_stale_dev_server(data_dir: Path, db_file: Path, stop_timeout: float) -> str | None:
    """Read the pid file before a start: its server, left by a run that is gone, is stopped (SIGTERM, SIGKILL after
    `stop_timeout` s) and a sentence says so; a file naming no server of ours is removed. Raises DataFolderInUse when
    the server still belongs to a running stack. Blocking: call it off the event loop."""
    entry = read_pid_file(data_dir)
    if entry is None:
        with contextlib.suppress(FileNotFoundError):
            pid_file(data_dir).unlink()  # unreadable: nothing in it can be trusted
        return None
    server = _alive(entry.pid)
    if server is None or not serves_database(server, db_file):  # ended, or the pid now belongs to another program
        remove_pid_file(data_dir, entry.pid)
        return None
    if owner_running(entry):
        raise DataFolderInUse(
            f"the data folder {data_dir} is in use by a running trialflow (process {entry.owner_pid}, its Temporal "
            f"dev server process {entry.pid}): stop it first (Ctrl-C in its terminal, or `kill {entry.owner_pid}`), "
            "or give this one a data folder of its own (TRIALFLOW_DATA_DIR)"
        )
    server.terminate()
    try:
        server.wait(timeout=stop_timeout)
        how = "stopped"
    except psutil.TimeoutExpired:
        server.kill()
        server.wait(timeout=stop_timeout)
        how = "killed (it ignored SIGTERM)"
    remove_pid_file(data_dir, entry.pid)
    return (
        f"{how} the Temporal dev server (process {entry.pid}) that an earlier run on {data_dir} left behind "
        f"(process {entry.owner_pid}, which ended without stopping it)"
    )


def listener_on(host: str, port: int) -> str:
    """Who listens on the port, in words, when this user may see it (e.g. "process 4242, temporal")."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return "another program"
    for connection in connections:
        local = connection.laddr
        listening = connection.status == psutil.CONN_LISTEN and connection.pid
        if listening and local and local.port == port and local.ip in (host, "0.0.0.0", "::"):
            with contextlib.suppress(psutil.Error):
                return f"another program (process {connection.pid}, {psutil.Process(connection.pid).name()})"
            return f"another program (process {connection.pid})"
    return "another program"
