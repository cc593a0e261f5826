"""`api_service`, the API as `make run` runs it: uvicorn on loopback over the stack's own Temporal and record,
tokens from the settings, stopped by cancellation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from api.server import api_url
from config.settings import ENV_PREFIX, Settings, load_settings
from security.auth import TokenConfigurationError, hash_token
from stack import run as run_module
from stack.services import Stack as RunningStack
from stack.services import api_service, journey_worker_service
from tests.facade.journeys import enrollment
from tests.servers import Stack
from tests.waiting import poll
from workers.dev_server import free_port, port_accepts_connections

TOKENS_ENV_NAME = f"{ENV_PREFIX}API_TOKENS"


def running_stack(stack: Stack, port: int) -> RunningStack:
    settings = load_settings(data_dir=stack.data_dir, database_url=f"sqlite:///{stack.data_dir / 'trial-record.db'}")
    # `api_port` is the setting the API takes its port from; set here as `make run` would from TRIALFLOW_API_PORT.
    settings = settings.model_copy(update={"api_port": port})
    return RunningStack(
        settings=settings,
        temporal_address=stack.server.address,
        temporal_namespace=stack.server.namespace,
        temporal_ui_url=stack.server.ui_url,
    )


async def test_the_service_serves_until_cancelled(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [{"sha256": hash_token("s3cret-supervisor"), "user_id": "supervisor.ng", "role": "supervisor"}]
    monkeypatch.setenv(TOKENS_ENV_NAME, json.dumps({"tokens": entries}))
    port = free_port()
    service = asyncio.create_task(api_service(running_stack(stack, port), asyncio.Event()))
    try:
        async with httpx.AsyncClient(base_url=api_url(port)) as http:

            async def healthy() -> bool | None:
                try:
                    return (await http.get("/healthz")).status_code == 200 or None
                except httpx.TransportError:
                    return None

            await poll(healthy, "the API answers")
            supervisor = {"Authorization": "Bearer s3cret-supervisor"}
            assert (await http.get("/report", headers=supervisor)).status_code == 200
            assert (await http.get("/patients/AP-9999", headers=supervisor)).status_code == 404
            assert (await http.get("/report")).status_code == 401
    finally:
        service.cancel()
        await asyncio.gather(service, return_exceptions=True)
    assert service.cancelled()
    with pytest.raises(httpx.TransportError):
        async with httpx.AsyncClient(base_url=api_url(port)) as http:
            await http.get("/healthz")


async def test_an_invalid_token_configuration_stops_the_service(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKENS_ENV_NAME, json.dumps([{"sha256": "not-a-hash", "user_id": "x", "role": "system"}]))
    with pytest.raises(TokenConfigurationError) as raised:
        await api_service(running_stack(stack, free_port()), asyncio.Event())
    assert "tokens.0.sha256" in str(raised.value) and "tokens.0.role" in str(raised.value)


async def test_the_stack_with_the_api_enrolls_and_stops_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run_stack` as `make run` will run it once `api_service` is in SERVICES: enroll over HTTP, then stop."""
    entries = [
        {"sha256": hash_token("coordinator-token"), "user_id": "coordinator.kim", "role": "research_coordinator"}
    ]
    monkeypatch.setenv(TOKENS_ENV_NAME, json.dumps(entries))
    port = free_port()
    settings = Settings(
        _env_file=None, data_dir=tmp_path / "data", temporal_port=free_port(), temporal_ui_port=free_port()
    ).model_copy(update={"api_port": port})
    stop = asyncio.Event()
    running = asyncio.create_task(
        run_module.run_stack(settings, stop, services=[journey_worker_service, api_service], announce=lambda _: None)
    )
    try:
        async with httpx.AsyncClient(base_url=api_url(port), timeout=30) as http:

            async def healthy() -> bool | None:
                try:
                    return (await http.get("/healthz")).status_code == 200 or None
                except httpx.TransportError:
                    return None

            await poll(healthy, "the API answers", within_seconds=30)
            coordinator = {"Authorization": "Bearer coordinator-token"}
            body = {"study_id": "RUN-001", "screening": enrollment("RUN-001").screening.model_dump(mode="json")}
            enrolled = await http.post("/patients", json=body, headers=coordinator)
            assert enrolled.status_code == 201, enrolled.text

            async def recorded() -> dict[str, object] | None:
                status = (await http.get("/patients/RUN-001", headers=coordinator)).json()
                return status if status.get("last_sequence") else None

            assert (await poll(recorded, "the enrollment recorded"))["phase"] == "screening"
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
    assert not port_accepts_connections("127.0.0.1", port)
    assert not port_accepts_connections("127.0.0.1", settings.temporal_port)
