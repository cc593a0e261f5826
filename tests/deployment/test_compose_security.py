"""docker-compose.yml keeps patient data encrypted and Temporal closed to strangers: payload keys as Docker secrets
for every process that holds them, a codec server the Web UI decodes through (its write actions off), mutual TLS
on every Temporal client and on the server, no auto-setup image, and production settings that pass the very check
that refuses a start without keys or TLS (config/production.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from api.codec_server import argument_parser as codec_arguments
from config.production import production_problems
from config.settings import Settings
from tests.deployment.compose_files import (
    TEMPORAL_CLOUD_FILE,
    command_of,
    depends_on_of,
    environment_of,
    load_compose,
    secret_targets,
)
from tests.deployment.settings_fields import file_settings, setting_variables
from tests.deployment.test_make_certs import SCRIPT as MAKE_CERTS

KEY_HOLDERS = ("worker", "api", "codec-server")
TEMPORAL_CLIENTS = ("worker", "api")  # trialflow's own; the UI and the admin jobs are checked with their own names


def secret_file(compose: dict[str, Any], service: dict[str, Any], path: str) -> str:
    """The host file behind a /run/secrets path the service mounts (the file of a top-level `secrets:` entry)."""
    by_target = {target: name for name, target in secret_targets(service).items()}
    assert path in by_target, f"{path} is not one of the service's secrets"
    file: str = compose["secrets"][by_target[path]]["file"]
    return file


# ------------------------------------------------------------------ payload keys


def test_every_process_holding_payload_keys_gets_them_as_a_docker_secret(
    compose: dict[str, Any], resolved: dict[str, Any]
) -> None:
    for name in KEY_HOLDERS:
        service = compose["services"][name]
        path = environment_of(service)["TRIALFLOW_PAYLOAD_KEYS_FILE"]
        assert path == "/run/secrets/payload-keys", name
        assert "TRIALFLOW_PAYLOAD_KEYS" not in environment_of(service), f"{name}: keys in the environment"
        assert secret_file(resolved, resolved["services"][name], path) == "./deploy/secrets/payload-keys.json"
    # Nothing else holds them: the UI, Temporal and the jobs see ciphertext only.
    holders = {name for name, service in compose["services"].items() if "payload-keys" in secret_targets(service)}
    assert holders == set(KEY_HOLDERS)


def test_the_api_and_the_workers_hold_the_command_seal_keys_as_a_docker_secret(
    compose: dict[str, Any], resolved: dict[str, Any]
) -> None:
    """The API seals every command and the workers verify it: both hold the seal keys, nothing else does (the codec
    server and the Web UI never send commands)."""
    for name in ("worker", "api"):
        service = compose["services"][name]
        path = environment_of(service)["TRIALFLOW_SEAL_KEYS_FILE"]
        assert path == "/run/secrets/seal-keys", name
        assert "TRIALFLOW_SEAL_KEYS" not in environment_of(service), f"{name}: keys in the environment"
        assert secret_file(resolved, resolved["services"][name], path) == "./deploy/secrets/seal-keys.json"
    holders = {name for name, service in compose["services"].items() if "seal-keys" in secret_targets(service)}
    assert holders == {"worker", "api"}
    cloud = load_compose(TEMPORAL_CLOUD_FILE)["services"]
    assert all("seal-keys" in secret_targets(cloud[name]) for name in ("worker", "api")), "the Cloud overlay too"


def test_the_workers_sign_checkpoints_the_api_checks_on_a_volume_of_their_own(
    compose: dict[str, Any], resolved: dict[str, Any]
) -> None:
    for name in ("worker", "api"):
        service = compose["services"][name]
        environment = environment_of(service)
        path = environment["TRIALFLOW_CHECKPOINT_KEYS_FILE"]
        assert secret_file(resolved, resolved["services"][name], path) == "./deploy/secrets/checkpoint-keys.json"
        assert environment["TRIALFLOW_CHECKPOINT_FILE"].startswith("/var/lib/trialflow/checkpoints/"), name
        assert "checkpoints:/var/lib/trialflow/checkpoints" in service["volumes"], name
    holders = {name for name, service in compose["services"].items() if "checkpoint-keys" in secret_targets(service)}
    assert holders == {"worker", "api"}
    assert "checkpoints" in compose["volumes"]


def test_the_payload_keys_secret_is_a_file_kept_out_of_git() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "deploy/secrets/payload-keys.json", "deploy/certs/ca.key"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout.split() == ["deploy/secrets/payload-keys.json", "deploy/certs/ca.key"]


# ------------------------------------------------------------------ the codec server and the Web UI


def test_the_codec_server_serves_the_ui_on_loopback_with_the_apis_tokens(services: dict[str, Any]) -> None:
    codec = services["codec-server"]
    arguments = codec_arguments().parse_args(command_of(codec)[3:])
    assert arguments.host == "0.0.0.0" and arguments.port == 8081
    assert codec["ports"] == ["127.0.0.1:${CODEC_PORT:-8081}:8081"]
    assert "127.0.0.1:8081/healthz" in str(codec["healthcheck"]["test"])
    # The API's token file, read-only: the codec server authenticates staff as the API does.
    (mount,) = codec["volumes"]
    api_tokens = environment_of(services["api"])["TRIALFLOW_API_TOKENS_FILE"]
    assert mount["source"] == "api-tokens" and mount["read_only"] is True
    assert environment_of(codec)["TRIALFLOW_API_TOKENS_FILE"] == api_tokens
    assert Path(api_tokens or "").parent == Path(mount["target"])
    assert "TRIALFLOW_TEMPORAL_ADDRESS" not in environment_of(codec), "the codec server never dials Temporal"


def test_the_ui_decodes_through_the_codec_server_and_offers_no_write_action(
    services: dict[str, Any], resolved: dict[str, Any]
) -> None:
    ui = environment_of(resolved["services"]["temporal-ui"])
    codec = resolved["services"]["codec-server"]
    published_port = codec["ports"][0].split(":")[1]
    # The browser calls the endpoint: the codec server's port as published on this machine.
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == f"http://localhost:{published_port}"
    assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"
    ui_origin = f"http://localhost:{resolved['services']['temporal-ui']['ports'][0].split(':')[1]}"
    assert ui_origin in (environment_of(codec)["TRIALFLOW_CODEC_CORS_ORIGINS"] or "").split(",")
    assert depends_on_of(services["temporal-ui"])["codec-server"] == "service_healthy"
    for switch in (
        "TEMPORAL_DISABLE_WRITE_ACTIONS",  # the UI server refuses every write (not only hides the buttons)
        "TEMPORAL_WORKFLOW_TERMINATE_DISABLED",
        "TEMPORAL_WORKFLOW_RESET_DISABLED",
        "TEMPORAL_WORKFLOW_CANCEL_DISABLED",
        "TEMPORAL_WORKFLOW_SIGNAL_DISABLED",
        "TEMPORAL_START_WORKFLOW_DISABLED",
        "TEMPORAL_BATCH_ACTIONS_DISABLED",
    ):
        assert ui[switch] == "true", switch


# ------------------------------------------------------------------ mutual TLS


def test_the_server_requires_client_certificates_of_the_stacks_ca_and_encrypts_internode(
    services: dict[str, Any],
) -> None:
    server = services["temporal"]
    environment = environment_of(server)
    assert environment["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] == "true"
    mounted = set(secret_targets(server).values())
    for variable in (
        "TEMPORAL_TLS_SERVER_CERT",
        "TEMPORAL_TLS_SERVER_KEY",
        "TEMPORAL_TLS_SERVER_CA_CERT",
        "TEMPORAL_TLS_FRONTEND_CERT",
        "TEMPORAL_TLS_FRONTEND_KEY",
        "TEMPORAL_TLS_CLIENT1_CA_CERT",
    ):
        assert environment[variable] in mounted, variable
    assert environment["TEMPORAL_TLS_CLIENT1_CA_CERT"] == environment["TEMPORAL_TLS_SERVER_CA_CERT"]
    assert environment["TEMPORAL_TLS_INTERNODE_SERVER_NAME"] == environment["TEMPORAL_TLS_FRONTEND_SERVER_NAME"]


def test_every_temporal_client_presents_its_own_certificate(services: dict[str, Any]) -> None:
    certificates: dict[str, str] = {}
    for name in TEMPORAL_CLIENTS:
        environment = environment_of(services[name])
        mounted = set(secret_targets(services[name]).values())
        for variable in (
            "TRIALFLOW_TEMPORAL_TLS_CERT",
            "TRIALFLOW_TEMPORAL_TLS_KEY",
            "TRIALFLOW_TEMPORAL_TLS_SERVER_CA",
        ):
            assert environment[variable] in mounted, f"{name}.{variable}"
        certificates[name] = environment["TRIALFLOW_TEMPORAL_TLS_CERT"] or ""
    ui = environment_of(services["temporal-ui"])
    assert {ui["TEMPORAL_TLS_CERT"], ui["TEMPORAL_TLS_KEY"], ui["TEMPORAL_TLS_CA"]} <= set(
        secret_targets(services["temporal-ui"]).values()
    )
    assert ui["TEMPORAL_TLS_ENABLE_HOST_VERIFICATION"] == "true"
    certificates["temporal-ui"] = ui["TEMPORAL_TLS_CERT"] or ""
    namespace_job = environment_of(services["temporal-namespace"])
    for variable in (
        "TEMPORAL_TLS_CLIENT_CERT_PATH",
        "TEMPORAL_TLS_CLIENT_KEY_PATH",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    ):
        assert namespace_job[variable] in secret_targets(services["temporal-namespace"]).values(), variable
    certificates["temporal-namespace"] = namespace_job["TEMPORAL_TLS_CLIENT_CERT_PATH"] or ""
    registration = command_of(services["temporal-search-attributes"])
    for flag in ("--tls-cert-path", "--tls-key-path", "--tls-ca-path"):
        assert (
            registration[registration.index(flag) + 1]
            in secret_targets(services["temporal-search-attributes"]).values()
        )
    # One certificate per kind of caller, so the server's authorizer can tell them apart (docs/deployment.md).
    assert len({certificates[name] for name in ("worker", "api", "temporal-ui")}) == 3
    assert certificates["temporal-namespace"] == registration[registration.index("--tls-cert-path") + 1]


def test_every_certificate_secret_is_a_file_deploy_make_certs_makes(
    compose: dict[str, Any], resolved: dict[str, Any], tmp_path: Path
) -> None:
    made = subprocess.run(["bash", str(MAKE_CERTS), str(tmp_path / "certs")], capture_output=True, check=False)
    assert made.returncode == 0, made.stderr
    made_files = {path.name for path in (tmp_path / "certs").iterdir()}
    certificate_secrets = {
        name: Path(secret["file"]) for name, secret in resolved["secrets"].items() if not name.endswith("-keys")
    }
    assert certificate_secrets, "no certificate secrets"
    for name, file in certificate_secrets.items():
        assert str(file.parent) == "deploy/certs" and file.name in made_files, name
    assert "ca.key" not in {file.name for file in certificate_secrets.values()}, "the CA's key stays off the stack"
    used = {name for service in compose["services"].values() for name in secret_targets(service)}
    assert used == set(compose["secrets"]), "every declared secret is used, every used one declared"


def test_no_service_runs_the_auto_setup_image_in_either_file(compose: dict[str, Any]) -> None:
    for document in (compose, load_compose(TEMPORAL_CLOUD_FILE)):
        for name, service in document["services"].items():
            assert "auto-setup" not in str(service.get("image", "")), name


# ------------------------------------------------------------------ production settings


def test_the_key_holders_run_as_production_and_their_settings_pass_the_production_check(
    resolved: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in = tmp_path / "mounted-file"
    stand_in.write_text("")
    for name in KEY_HOLDERS:
        environment = environment_of(resolved["services"][name])
        assert environment["TRIALFLOW_ENVIRONMENT"] == "production", name
        with monkeypatch.context() as patched:
            for variable in setting_variables():
                patched.delenv(variable, raising=False)
            for variable, value in environment.items():
                if variable in setting_variables():
                    patched.setenv(variable, str(stand_in) if variable in file_settings() else str(value))
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert production_problems(settings, dials_temporal=name != "codec-server") == [], name
        # Without the secret's setting, the same service would refuse to start.
        without_keys = settings.model_copy(update={"payload_keys_file": None})
        assert any("no payload keys" in problem for problem in production_problems(without_keys)), name
