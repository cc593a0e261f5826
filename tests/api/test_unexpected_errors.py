"""Failures nobody planned for still answer as problem details, and never with the error's own text (it may quote a
request's PHI): a trial record that cannot be read is 503, anything else 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from api import create_app
from domain.roles import Role
from facade import TrialClient
from records import EventStore, VerificationReport
from tests.api.conftest import as_role, authenticator

# What an unexpected error might say: it must never reach the caller.
LEAKED = "date of birth 2016-02-29"


class BrokenTrialClient(TrialClient):
    """A trial client over a record whose tables were never made, whose verify fails in an unforeseen way."""

    async def verify(self) -> VerificationReport:
        raise RuntimeError(LEAKED)


@pytest_asyncio.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    store = EventStore(f"sqlite:///{tmp_path / 'never-migrated.db'}")
    trial = BrokenTrialClient(None, store)  # type: ignore[arg-type]  # these calls never reach Temporal
    # The server logs and re-raises what it did not expect, after answering: here it is only answered.
    transport = httpx.ASGITransport(app=create_app(trial, authenticator()), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://trialflow.test") as client:
        yield client
    store.close()


@pytest.mark.parametrize(
    ("path", "status", "problem"),
    [("/report", 503, "record-unavailable"), ("/verify", 500, "internal-error")],
)
async def test_an_unexpected_failure_is_a_problem_that_echoes_nothing(
    http: httpx.AsyncClient, path: str, status: int, problem: str
) -> None:
    answer = await http.get(path, headers=as_role(Role.SUPERVISOR))
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"].endswith(f":problem/{problem}") and body["status"] == status and body["instance"] == path
    assert LEAKED not in answer.text and "no such table" not in answer.text
