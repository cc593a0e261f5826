"""A lost reply, end to end: the `trial` CLI talks to the real API (over the dev server) through a proxy that lets the
request reach the API, waits for its answer, and drops it. The CLI exits 75 (EX_TEMPFAIL), says the step may or may
not have been recorded and prints the command that retries it safely; that command, run as printed, is answered from
the first result and nothing is recorded twice. A careless retry without the key is refused by the journey as an exact
repeat of what is already recorded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from cli.api_client import OUTCOME_UNKNOWN_EXIT_CODE, REFUSED_EXIT_CODE
from domain.roles import Role
from tests.cli.test_staff_supervisor import screening_file
from tests.cli.trial_cli import TrialCli, trial_cli_over_api, worker_logs_kept_out_of_the_cli_output
from tests.facade.journeys import infused, since
from tests.servers import Stack
from tests.waiting import poll


class ReplyDroppingProxy:
    """TCP to the API; while `drop` > 0, the next connection's answer is read from the API and never passed on: the
    connection is cut as the answer arrives, so the request was done but its reply is lost."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self.drop = 0
        self.dropped = 0

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, cut: bool) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65536):
                if cut:
                    self.dropped += 1
                    sink.transport.abort()
                    return
                sink.write(data)
                await sink.drain()
        sink.close()

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        cut = self.drop > 0
        self.drop -= 1 if cut else 0
        upstream_in, upstream_out = await asyncio.open_connection(self._host, self._port)
        await asyncio.gather(
            self._pipe(client_in, upstream_out, cut=False), self._pipe(upstream_in, client_out, cut=cut)
        )

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.close()


@pytest.fixture(scope="module")
def quiet_worker() -> Iterator[None]:
    with worker_logs_kept_out_of_the_cli_output():
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def proxied(
    stack: Stack, quiet_worker: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[TrialCli, ReplyDroppingProxy]]:
    """A CLI whose every request goes through the proxy (signed in there: credentials are kept per API URL)."""
    async with trial_cli_over_api(stack, tmp_path_factory.mktemp("lost-reply")) as direct:
        proxy = ReplyDroppingProxy(direct.env["TRIALFLOW_API_URL"])
        async with proxy.serving() as url:
            yield TrialCli({**direct.env, "TRIALFLOW_API_URL": url}, direct.token_file, direct.config_dir), proxy


def printed_retry(stderr: str) -> list[str]:
    """The arguments of the retry command the CLI printed (`  trial ...`), without the program's name."""
    line = next(line.strip() for line in stderr.splitlines() if line.strip().startswith("trial "))
    return shlex.split(line)[1:]


async def timeline_types(cli: TrialCli, study_id: str) -> list[str]:
    timeline = await cli("timeline", study_id, "--json")
    assert timeline.exit_code == 0, timeline.output
    return [entry["type"] for entry in json.loads(timeline.stdout)["entries"]]


async def test_a_lost_reply_exits_75_and_the_printed_retry_is_answered_from_the_first_result(
    stack: Stack, proxied: tuple[TrialCli, ReplyDroppingProxy], tmp_path: Path
) -> None:
    cli, proxy = proxied
    [assessed_at] = since(await infused(stack.trial, "LR-3001"), 1)
    physician = await cli.signed_in("dr.amara", Role.PHYSICIAN)
    findings = {
        "max_temperature_c": 38.6,
        "hypotension": False,
        "vasopressors_excluding_vasopressin": 0,
        "vasopressin": False,
        "oxygen": "none",
    }
    crs = tmp_path / "crs.json"
    crs.write_text(json.dumps({"assessed_at": assessed_at.isoformat(), "findings": findings}))
    args = ("record", "LR-3001", "assess-crs", "--file", str(crs), "--json")

    proxy.drop = 1
    lost = await physician(*args)
    assert proxy.dropped == 1
    assert lost.exit_code == OUTCOME_UNKNOWN_EXIT_CODE == 75, lost.output
    assert "assess-crs for LR-3001 may or may not have been recorded" in lost.stderr
    retry = printed_retry(lost.stderr)
    assert retry[: len(args)] == list(args)  # the same arguments, as typed
    assert retry[-2] == "--idempotency-key" and retry[-1]
    # The request did reach the journey: the assessment is recorded once.
    assert (await timeline_types(physician, "LR-3001")).count("crs_assessed") == 1

    again = await physician(*retry)
    assert again.exit_code == 0, again.output
    answered = json.loads(again.stdout)["events"]
    recorded = json.loads((await physician("timeline", "LR-3001", "--json")).stdout)["entries"]
    crs_entries = [entry for entry in recorded if entry["type"] == "crs_assessed"]
    assert len(crs_entries) == 1  # the retry was answered, not recorded again
    assert [event["sequence"] for event in answered] == [crs_entries[0]["sequence"]]

    # A retry without the key (the careless way): the journey refuses the exact repeat, naming the entry.
    careless = await physician(*args)
    assert careless.exit_code == REFUSED_EXIT_CODE, careless.output
    assert f"already recorded (entry {crs_entries[0]['sequence']})" in careless.stderr
    assert (await timeline_types(physician, "LR-3001")).count("crs_assessed") == 1


async def test_a_lost_enrollment_reply_is_retried_safely_too(
    proxied: tuple[TrialCli, ReplyDroppingProxy], tmp_path: Path
) -> None:
    cli, proxy = proxied
    coordinator = await cli.signed_in("coordinator.oyelaran", Role.RESEARCH_COORDINATOR)
    args = ("enroll", "--study-id", "LR-3002", "--file", screening_file(tmp_path, "LR-3002"), "--json")
    proxy.drop = 1
    lost = await coordinator(*args)
    assert lost.exit_code == 75, lost.output
    assert "the enrollment of LR-3002 may or may not have been recorded" in lost.stderr
    again = await coordinator(*printed_retry(lost.stderr))
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["study_id"] == "LR-3002"

    async def recorded() -> list[str] | None:
        types = await timeline_types(coordinator, "LR-3002")
        return types if "patient_enrolled" in types else None

    assert (await poll(recorded, "the enrollment recorded")).count("patient_enrolled") == 1
