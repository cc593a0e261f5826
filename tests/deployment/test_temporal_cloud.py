"""docker-compose.temporal-cloud.yml: laid over docker-compose.yml, the workers and the API dial a Temporal Cloud
namespace with an API key (TLS implied), and nothing they start waits for the local Temporal."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from tests.deployment.compose_files import (
    TEMPORAL_CLOUD_FILE,
    InterpolationError,
    compose_specification,
    depends_on_of,
    environment_of,
    example_environment,
    interpolate,
    load_compose,
    schema_problems,
)
from tests.deployment.settings_fields import setting_variables

LOCAL_TEMPORAL = {"temporal", "temporal-db", "temporal-ui", "temporal-search-attributes"}
CLOUD_VARIABLES = {"TEMPORAL_CLOUD_ADDRESS", "TEMPORAL_CLOUD_NAMESPACE", "TEMPORAL_CLOUD_API_KEY"}


@pytest.fixture(scope="module")
def override() -> dict[str, Any]:
    return load_compose(TEMPORAL_CLOUD_FILE)


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return load_compose()


def test_the_override_matches_the_compose_specification(override: dict[str, Any]) -> None:
    assert schema_problems(override, compose_specification()) == []
    assert schema_problems(interpolate(override, example_environment()), compose_specification()) == []


def test_it_only_changes_services_the_base_file_has(override: dict[str, Any], base: dict[str, Any]) -> None:
    assert set(override["services"]) == {"worker", "api"}
    assert set(override["services"]) <= set(base["services"])


def test_what_it_starts_never_waits_for_the_local_temporal(override: dict[str, Any], base: dict[str, Any]) -> None:
    def started_with(name: str) -> set[str]:
        """The service and everything it depends on, the override's depends_on replacing the base file's."""
        service = override["services"].get(name) or base["services"][name]
        reached = {name}
        for target in depends_on_of(service):
            reached |= started_with(target)
        return reached

    started = started_with("worker") | started_with("api")
    assert not started & LOCAL_TEMPORAL
    assert {"migrate", "trial-record-db", "mailpit"} <= started
    # Without `!override`, Compose would merge these lists with the base file's, which wait for Temporal.
    text = TEMPORAL_CLOUD_FILE.read_text()
    assert len(re.findall(r"^    depends_on: !override$", text, flags=re.MULTILINE)) == len(override["services"])


def test_workers_and_api_are_configured_with_settings_only(override: dict[str, Any]) -> None:
    for name, service in override["services"].items():
        unknown = set(environment_of(service)) - set(setting_variables())
        assert not unknown, f"{name}: {sorted(unknown)} are not fields of config.settings.Settings"


def test_the_api_key_is_required_never_written(override: dict[str, Any]) -> None:
    with pytest.raises(InterpolationError) as refused:
        interpolate(override, {})
    assert set(re.findall(r"^  ([A-Z_]+):", str(refused.value), flags=re.MULTILINE)) == CLOUD_VARIABLES
    for service in override["services"].values():
        api_key = environment_of(service)["TRIALFLOW_TEMPORAL_API_KEY"] or ""
        assert re.fullmatch(r"\$\{TEMPORAL_CLOUD_API_KEY:\?[^}]+\}", api_key)


def test_laid_over_the_base_file_the_settings_dial_the_cloud_over_tls(
    override: dict[str, Any], base: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    values = example_environment()
    resolved_base, resolved_override = interpolate(base, values), interpolate(override, values)
    for name in override["services"]:
        merged = environment_of(resolved_base["services"][name]) | environment_of(resolved_override["services"][name])
        # `!reset null` removes the base file's setting (the overlay has no pass-through variable, the other null).
        merged = {variable: value for variable, value in merged.items() if value is not None}
        assert not {"TRIALFLOW_TEMPORAL_TLS_CERT", "TRIALFLOW_TEMPORAL_TLS_SERVER_CA"} & set(merged), name
        with monkeypatch.context() as patched:
            for variable in setting_variables():
                patched.delenv(variable, raising=False)
            for variable, value in merged.items():
                patched.setenv(variable, str(value))
            staff_directory = tmp_path / "staff-directory.toml"
            staff_directory.write_text("")
            if "TRIALFLOW_STAFF_DIRECTORY" in merged:
                patched.setenv("TRIALFLOW_STAFF_DIRECTORY", str(staff_directory))
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.temporal_address == values["TEMPORAL_CLOUD_ADDRESS"], name
        assert settings.temporal_namespace == values["TEMPORAL_CLOUD_NAMESPACE"], name
        assert settings.temporal_api_key is not None and settings.uses_tls, name
        # Still production, still encrypting: Temporal Cloud stores only encrypted payloads.
        assert settings.environment == "production" and merged["TRIALFLOW_PAYLOAD_KEYS_FILE"], name


def test_the_local_mutual_tls_is_reset_and_only_the_keys_stay_mounted(
    override: dict[str, Any],
) -> None:
    text = TEMPORAL_CLOUD_FILE.read_text()
    for variable in ("TRIALFLOW_TEMPORAL_TLS_CERT", "TRIALFLOW_TEMPORAL_TLS_KEY", "TRIALFLOW_TEMPORAL_TLS_SERVER_CA"):
        assert re.search(rf"^  {variable}: !reset null$", text, flags=re.MULTILINE), variable
    for name, service in override["services"].items():
        assert service["secrets"] == ["payload-keys", "seal-keys", "checkpoint-keys"], name
    assert len(re.findall(r"^    secrets: !override$", text, flags=re.MULTILINE)) == len(override["services"])
