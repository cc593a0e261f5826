"""The deployment files read as Docker Compose reads them: YAML with Compose's merge tags, `${VAR}` interpolation,
`.env` files, and the Compose Specification's JSON schema (a copy committed beside the tests, data/README.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import FormatChecker
from jsonschema.validators import validator_for

REPOSITORY = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPOSITORY / "docker-compose.yml"
TEMPORAL_CLOUD_FILE = REPOSITORY / "docker-compose.temporal-cloud.yml"
ENV_EXAMPLE_FILE = REPOSITORY / ".env.example"

# The schema Docker Compose validates with (compose-spec/compose-go, schema/compose-spec.json), committed with its
# source commit and licence in data/README.md: no network at test time, and no change unless someone refreshes it.
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "compose-spec.json"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}, $NAME, and $$ (a `$`).
VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<argument>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class ComposeLoader(yaml.SafeLoader):
    """YAML as Compose reads it: `!override` and `!reset` (merge controls of override files) load as plain values."""


def _tagged_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    text = loader.construct_scalar(node)  # type: ignore[arg-type]
    return None if text in ("null", "~", "") else text  # `!reset null`: the attribute removed


for _tag in ("!override", "!reset"):
    ComposeLoader.add_constructor(_tag, _tagged_value)


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=ComposeLoader)  # a SafeLoader
    assert isinstance(document, dict), f"{path.name} is not a mapping"
    return document


# ------------------------------------------------------------------ interpolation


@dataclass(frozen=True)
class VariableUse:
    """One `${NAME...}` in a compose file: its operator (`:-`, `:?`, ... or empty) and what follows it."""

    name: str
    operator: str
    argument: str

    @property
    def required(self) -> bool:
        return self.operator in (":?", "?")

    @property
    def default(self) -> str | None:
        return self.argument if self.operator in (":-", "-") else None


def strings_in(value: Any) -> Iterator[str]:
    """Every string value in a parsed document (mapping keys are never interpolated by Compose)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def variable_uses(document: Any) -> list[VariableUse]:
    uses = []
    for text in strings_in(document):
        for match in VARIABLE.finditer(text):
            if match["escaped"]:
                continue
            name = match["braced"] or match["bare"]
            uses.append(VariableUse(name, match["operator"] or "", match["argument"] or ""))
    return uses


class InterpolationError(ValueError):
    """Variables a compose file requires are missing; the message names each one."""


def interpolate(document: Any, environment: Mapping[str, str]) -> Any:
    """The document with every variable replaced as Compose would, or InterpolationError naming each missing one."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        operator, argument = match["operator"] or "", match["argument"] or ""
        value = environment.get(name)
        empty = not value
        if operator == ":-":
            return argument if empty else str(value)
        if operator == "-":
            return argument if value is None else value
        if operator in (":?", "?") and (empty if operator == ":?" else value is None):
            missing.append(f"{name}: {argument}")
            return ""
        if operator == ":+":
            return "" if empty else argument
        if operator == "+":
            return "" if value is None else argument
        return value or ""

    def walk(value: Any, transform: Callable[[str], str]) -> Any:
        if isinstance(value, str):
            return transform(value)
        if isinstance(value, Mapping):
            return {key: walk(item, transform) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, transform) for item in value]
        return value

    result = walk(document, lambda text: VARIABLE.sub(substitute, text))
    if missing:
        raise InterpolationError("missing required variables:\n  " + "\n  ".join(sorted(set(missing))))
    return result


# ------------------------------------------------------------------ .env files

ASSIGNMENT = re.compile(r"^(?P<commented>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


@dataclass(frozen=True)
class EnvEntry:
    name: str
    value: str
    commented: bool  # documented, but only needed by an optional file (e.g. the Temporal Cloud override)


def read_env_file(path: Path = ENV_EXAMPLE_FILE) -> dict[str, EnvEntry]:
    entries: dict[str, EnvEntry] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := ASSIGNMENT.match(line.strip()):
            name = match["name"]
            assert name not in entries, f"{path.name} sets {name} twice"
            entries[name] = EnvEntry(name, match["value"], bool(match["commented"]))
    return entries


def example_environment() -> dict[str, str]:
    """What a user's `.env` made from .env.example holds, the commented (optional-file) entries included."""
    return {entry.name: entry.value for entry in read_env_file().values()}


# ------------------------------------------------------------------ services


def environment_of(service: Mapping[str, Any]) -> dict[str, str | None]:
    """A service's environment as a mapping (Compose allows a list of NAME=value too; a bare NAME passes through)."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        listed: dict[str, str | None] = {}
        for entry in environment:
            name, equals, value = entry.partition("=")
            listed[name] = value if equals else None
        return listed
    return {name: None if value is None else str(value) for name, value in environment.items()}


def depends_on_of(service: Mapping[str, Any]) -> dict[str, str]:
    """Each service this one waits for, with the condition it waits for."""
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return dict.fromkeys(depends_on, "service_started")
    return {name: (options or {}).get("condition", "service_started") for name, options in depends_on.items()}


def command_of(service: Mapping[str, Any]) -> list[str]:
    command = service.get("command") or []
    assert isinstance(command, list), f"write commands in exec form (a list), not {command!r}"
    return [str(part) for part in command]


def secret_targets(service: Mapping[str, Any]) -> dict[str, str]:
    """Where each secret the service lists is mounted: /run/secrets/<name> unless it names another target."""
    targets = {}
    for secret in service.get("secrets") or []:
        name = secret if isinstance(secret, str) else secret["source"]
        target = name if isinstance(secret, str) else secret.get("target", name)
        targets[name] = target if target.startswith("/") else f"/run/secrets/{target}"
    return targets


def mount_targets(service: Mapping[str, Any]) -> list[str]:
    """Every path mounted into the service's containers: volumes, binds and secrets."""
    targets = list(secret_targets(service).values())
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            targets.append(parts[1] if len(parts) > 1 else parts[0])
        else:
            targets.append(volume["target"])
    return targets


# ------------------------------------------------------------------ the Compose Specification's schema


def compose_specification() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


def schema_problems(document: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every place the document breaks the schema, as `path: message`; empty when it conforms."""
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=FormatChecker())
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda error: list(map(str, error.absolute_path)))
    ]
