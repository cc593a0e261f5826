"""Schema-driven: schemathesis sends valid and invalid requests to every operation of the served API (uvicorn,
against the real dev server and worker) and no answer may be a server error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import hypothesis
import pytest_asyncio
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from api import create_app
from api.server import api_url, serve
from domain.roles import Role
from tests.api.conftest import as_role, authenticator
from tests.facade.journeys import enrollment
from tests.servers import Stack
from workers.dev_server import free_port

EXAMPLES_PER_OPERATION_AND_MODE = 15  # 7 operations x 2 modes: a few hundred requests, well under 30 s


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(stack: Stack) -> AsyncIterator[tuple[FastAPI, str]]:
    app = create_app(stack.trial, authenticator())
    port = free_port()
    started = asyncio.Event()
    server = asyncio.create_task(serve(app, "127.0.0.1", port, started))
    await asyncio.wait_for(started.wait(), 10)
    try:
        yield app, api_url(port)
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)


def fuzz(app: FastAPI, base_url: str, headers: dict[str, str], enrolled_study_id: str) -> list[str]:
    """Every operation, positive and negative cases, and valid requests about one enrolled patient (so commands
    reach the protocol's decisions, not only the unknown-patient answer); the passes run, labelled."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    exercised: list[str] = []
    paths = app.openapi()["paths"]
    for result in schema.get_all_operations():
        operation = result.ok()
        described = paths[operation.path][operation.method.lower()]
        takes_input = bool(described.get("parameters") or described.get("requestBody"))
        # An operation that takes nothing has no invalid input to send.
        passes: list[tuple[GenerationMode, dict[str, str] | None]] = [(GenerationMode.POSITIVE, None)]
        if takes_input:
            passes.append((GenerationMode.NEGATIVE, None))
        if "{study_id}" in operation.path:
            passes.append((GenerationMode.POSITIVE, {"study_id": enrolled_study_id}))
        for mode, path_parameters in passes:

            @hypothesis.given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
            @hypothesis.settings(
                max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
                deadline=None,
                database=None,
                derandomize=True,  # the same requests every run: a failure here is reproducible
                suppress_health_check=list(HealthCheck),
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            )
            def no_server_error(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=base_url, headers=headers, checks=[not_a_server_error], timeout=30)

            no_server_error()
            exercised.append(f"{operation.label} ({mode.value}{', enrolled' if path_parameters else ''})")
    return exercised


async def test_no_operation_answers_with_a_server_error(served: tuple[FastAPI, str], stack: Stack) -> None:
    app, base_url = served
    # Schemathesis calls synchronously: in a thread, while this loop serves the API and the worker.
    enrolled = await stack.trial.enroll(enrollment("AP-2000"))
    assert enrolled.eligible
    # An investigator may issue most commands: many reach the protocol's decisions, and some are accepted.
    exercised = await asyncio.to_thread(fuzz, app, base_url, as_role(Role.INVESTIGATOR), "AP-2000")
    # Eighteen operations; negative cases for the nine that take input (healthz, auth/config, me, report, trial,
    # verify, slots and the two exports take none); the four about one patient once more for the enrolled one.
    assert len(exercised) == 18 + 9 + 4, exercised
