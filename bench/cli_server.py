"""A trial served as under `make run` (dev server, sealed worker, trial record, HTTP API) with one enrolled patient
and a signed-in profile, for `trial status` to be timed against a real answer. The test suite's own starters
(tests/: the API served on a free port, a profile signed in with a token) are the benchmark's dev tools."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from domain.roles import Role

BENCH_PATIENT = "TF-90001"
BENCH_USER = "dr.bench"


@dataclass(frozen=True)
class ServedTrial:
    env: dict[str, str]  # under which `trial status BENCH_PATIENT` asks the API as a signed-in investigator
    api_url: str


@asynccontextmanager
async def served_trial(directory: Path) -> AsyncIterator[ServedTrial]:
    """The served trial, with one enrolled patient and a signed-in investigator's environment."""
    from tests.cli.trial_cli import trial_cli_over_api  # the suite's starters: dev tools, as tests.postgres is
    from tests.facade.journeys import enrollment
    from tests.servers import dev_stack

    async with dev_stack(directory, "bench") as stack:
        await stack.trial.enroll(enrollment(BENCH_PATIENT))
        async with trial_cli_over_api(stack, directory / "api") as anonymous:
            signed_in = await anonymous.signed_in(BENCH_USER, Role.INVESTIGATOR)
            yield ServedTrial(env=signed_in.env, api_url=signed_in.api_url)
