"""docker-compose.yml: valid shape, pinned images, consistent references, and no password written in it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
REQUIRED_VARIABLE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$")  # ${VAR:?message}: no default, must be set
SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|TOKEN", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(entry.split("=", 1) if "=" in entry else (entry, "") for entry in environment)
    return {name: str(value) for name, value in environment.items()}


def depends_on_of(service: dict[str, Any]) -> list[str]:
    depends_on = service.get("depends_on") or []
    return list(depends_on) if isinstance(depends_on, list | dict) else []


def test_the_stack_has_temporal_on_postgresql_its_ui_and_the_trial_record(compose: dict[str, Any]) -> None:
    services = compose["services"]
    images = {name: service.get("image", "") for name, service in services.items()}

    assert images["temporal"].startswith("temporalio/auto-setup:")
    assert images["temporal-ui"].startswith("temporalio/ui:")
    assert images["temporal-db"] == images["trial-record-db"] == "postgres:16"
    assert environment_of(services["temporal"])["DB"] == "postgres12"
    assert environment_of(services["temporal"])["POSTGRES_SEEDS"] == "temporal-db"


def test_every_service_has_an_image_or_a_build(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service.get("image") or service.get("build"), name


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        if image is None:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert tag not in ("", "latest"), f"{name}: {image} is not pinned to a version"
        if tag.startswith("${"):
            assert ":-" in tag, f"{name}: {image} has no default version"


def test_depends_on_targets_exist(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for target in depends_on_of(service):
            assert target in services, f"{name} depends on unknown service {target}"
            assert target != name


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source and not source.startswith((".", "/", "$")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_no_password_is_written_in_the_file(compose: dict[str, Any]) -> None:
    secrets = 0
    for name, service in compose["services"].items():
        for variable, value in environment_of(service).items():
            if SECRET_NAME.search(variable):
                secrets += 1
                assert REQUIRED_VARIABLE.match(value), f"{name}.{variable} must be ${{VAR:?...}}, not {value!r}"
    assert secrets >= 3  # both PostgreSQL servers, and Temporal's connection to its own
    assert not re.search(r"(PASSWORD|PWD)[A-Z_]*:-", COMPOSE_FILE.read_text()), "a password has a default"


def test_published_ports_are_on_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
