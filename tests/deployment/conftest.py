"""The compose file the deployment tests read: as written, its services, and as Compose sees it with a `.env` made
from .env.example."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deployment.compose_files import example_environment, interpolate, load_compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The file as Compose sees it once a `.env` made from .env.example is read."""
    result: dict[str, Any] = interpolate(load_compose(), example_environment())
    return result
