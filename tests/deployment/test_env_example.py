""".env.example: every variable the compose files read, placeholders for the secrets, the files' own defaults for
the rest, and no TRIALFLOW_ name (the processes read `.env` too; the stack maps each variable to its setting)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deployment.compose_files import (
    ENV_EXAMPLE_FILE,
    REPOSITORY,
    TEMPORAL_CLOUD_FILE,
    EnvEntry,
    VariableUse,
    load_compose,
    read_env_file,
    variable_uses,
)

PLACEHOLDER_PREFIX = "change-me"


@pytest.fixture(scope="module")
def entries() -> dict[str, EnvEntry]:
    return read_env_file(ENV_EXAMPLE_FILE)


@pytest.fixture(scope="module")
def base_uses() -> list[VariableUse]:
    return variable_uses(load_compose())


@pytest.fixture(scope="module")
def cloud_uses() -> list[VariableUse]:
    return variable_uses(load_compose(TEMPORAL_CLOUD_FILE))


def test_no_variable_is_a_trialflow_setting(entries: dict[str, EnvEntry]) -> None:
    assert not [name for name in entries if name.startswith("TRIALFLOW_")]


def test_every_variable_the_compose_files_read_is_there_and_nothing_else(
    entries: dict[str, EnvEntry], base_uses: list[VariableUse], cloud_uses: list[VariableUse]
) -> None:
    used = {use.name for use in base_uses + cloud_uses}
    assert sorted(used - set(entries)) == [], "missing from .env.example"
    assert sorted(set(entries) - used) == [], "in .env.example but read by no compose file"


def test_secrets_are_placeholders_and_the_base_files_are_set(
    entries: dict[str, EnvEntry], base_uses: list[VariableUse], cloud_uses: list[VariableUse]
) -> None:
    required = {use.name for use in base_uses + cloud_uses if use.required}
    assert required, "the compose files require their secrets"
    for name in required:
        assert entries[name].value.startswith(PLACEHOLDER_PREFIX), f"{name} must be a placeholder"
    for use in base_uses:
        if use.required:
            assert not entries[use.name].commented, f"{use.name} is needed by docker-compose.yml: set it"
    for use in cloud_uses:
        assert entries[use.name].commented, f"{use.name} is for the Temporal Cloud file only: leave it commented"


def test_the_other_values_are_the_compose_files_defaults(
    entries: dict[str, EnvEntry], base_uses: list[VariableUse]
) -> None:
    defaults: dict[str, set[str]] = {}
    for use in base_uses:
        if use.default is not None:
            defaults.setdefault(use.name, set()).add(use.default)
    for name, values in defaults.items():
        assert len(values) == 1, f"{name} has different defaults in different places: {values}"
        assert entries[name].value == values.pop(), f"{name}: .env.example differs from the compose default"
        assert not entries[name].value.startswith(PLACEHOLDER_PREFIX)


def test_a_real_env_file_stays_out_of_git_and_out_of_the_image() -> None:
    ignored = (REPOSITORY / ".gitignore").read_text().splitlines()
    assert ".env" in ignored
    from tests.deployment.docker_build import is_excluded, read_dockerignore

    assert is_excluded(".env", read_dockerignore())


def test_the_reader_finds_active_and_commented_assignments(tmp_path: Any) -> None:
    example = tmp_path / ".env.example"
    example.write_text("# a comment\nA_SECRET=change-me-a\n\n# OPTIONAL_ONE=value with spaces\n#   not = a variable\n")
    assert read_env_file(example) == {
        "A_SECRET": EnvEntry("A_SECRET", "change-me-a", commented=False),
        "OPTIONAL_ONE": EnvEntry("OPTIONAL_ONE", "value with spaces", commented=True),
    }
