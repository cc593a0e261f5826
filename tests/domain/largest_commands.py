"""The largest valid command of every kind, built from each model's own JSON schema: every optional field filled,
every text at its maximum length in four-byte characters, every list at its maximum count. A field without a bound
(a string without maxLength, a list without maxItems, an open object) is an error here, so a new unbounded field
fails the tests that use this module."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from domain.journey.command_registry import COMMANDS

# The widest character UTF-8 has (four bytes), and one JSON escapes in neither form.
WIDEST = "\U0001f642"
# Dates far apart, in the order the models' own checks want them (a birth before the screening).
EARLIEST_DATE = "2010-01-01"
LATEST_DATE = "2026-01-01"
DATE_TIME = "2026-01-01T23:59:59.999999+14:00"
# Patterned tokens: the longest each pattern allows.
PATTERNED = {
    "^[A-Z][A-Z0-9]{1,7}-[0-9]{3,5}$": "TFAAAAAA-99999",
    "^[A-Za-z0-9._@-]+$": None,  # filled to maxLength below
    "^[0-9a-f]{64}$": "f" * 64,
}
EARLY_FIELDS = frozenset({"date_of_birth"})


class Unbounded(AssertionError):
    """A field whose size no schema bounds."""


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def largest_value(node: dict[str, Any], defs: dict[str, Any], path: str, name: str = "") -> Any:
    """The largest JSON value the schema `node` allows."""
    node = _resolve(node, defs)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return max(node["enum"], key=lambda value: len(str(value)))
    if "anyOf" in node or "oneOf" in node:
        options = [o for o in node.get("anyOf", node.get("oneOf", [])) if _resolve(o, defs).get("type") != "null"]
        values = [largest_value(option, defs, path, name) for option in options]
        return max(values, key=lambda value: len(repr(value)))
    kind = node.get("type")
    if kind == "object":
        if node.get("additionalProperties") not in (None, False):
            raise Unbounded(f"{path}: an open object")
        return {key: largest_value(sub, defs, f"{path}.{key}", key) for key, sub in node.get("properties", {}).items()}
    if kind == "array":
        if "maxItems" not in node and "prefixItems" not in node:
            raise Unbounded(f"{path}: a list without maxItems")
        items = node.get("items", {})
        return [largest_value(items, defs, f"{path}[]", name) for _ in range(node.get("maxItems", 0))]
    if kind == "string":
        if node.get("format") == "date":
            return EARLIEST_DATE if name in EARLY_FIELDS else LATEST_DATE
        if node.get("format") == "date-time":
            return DATE_TIME
        pattern = node.get("pattern")
        if pattern in PATTERNED and PATTERNED[pattern] is not None:
            return PATTERNED[pattern]
        if "maxLength" not in node:
            raise Unbounded(f"{path}: a string without maxLength")
        filler = "a" if pattern in PATTERNED else WIDEST
        return filler * node["maxLength"]
    if kind == "integer":
        return node.get("maximum", node.get("exclusiveMaximum", 10**18) - 1)
    if kind == "number":
        # A bound if there is one, else a number with the longest spelling.
        return node.get("maximum", node.get("exclusiveMaximum", 1.2345678901234567e300))
    if kind == "boolean":
        return True
    raise Unbounded(f"{path}: a value of no known size ({node})")


def largest_document(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return largest_value(schema, schema.get("$defs", {}), model.__name__)


def _errors(model: type[BaseModel], document: dict[str, Any]) -> tuple[int, int]:
    """How wrong `document` is: its errors, then their words (one check may name several problems)."""
    try:
        model.model_validate(document)
    except ValidationError as error:
        return error.error_count(), sum(len(e["msg"]) for e in error.errors())
    return 0, 0


def _optional_paths(model: type[BaseModel], document: dict[str, Any]) -> list[tuple[str, ...]]:
    """Where a key may be left out: every object's properties that its schema does not require."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    paths: list[tuple[str, ...]] = []

    def walk(node: dict[str, Any], value: Any, at: tuple[str, ...]) -> None:
        node = _resolve(node, defs)
        for option in node.get("anyOf", []):
            if _resolve(option, defs).get("type") == "object":
                walk(option, value, at)
        if isinstance(value, dict):
            required = set(node.get("required", []))
            for key, sub in node.get("properties", {}).items():
                if key in value:
                    if key not in required:
                        paths.append((*at, key))
                    walk(sub, value[key], (*at, key))

    walk(schema, document, ())
    return paths


def _without(document: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    if len(path) == 1:
        return {k: v for k, v in document.items() if k != path[0]}
    return {**document, path[0]: _without(document[path[0]], path[1:])}


def largest_valid(model: type[BaseModel]) -> BaseModel:
    """The largest document, less the fewest optional fields the model's own checks say cannot go together."""
    document = largest_document(model)
    while (errors := _errors(model, document)) != (0, 0):
        fewer = [
            candidate
            for path in _optional_paths(model, document)
            if _errors(model, candidate := _without(document, path)) < errors
        ]
        if not fewer:
            model.model_validate(document)  # raises, naming what no optional field can fix
        document = max(fewer, key=lambda candidate: len(json.dumps(candidate)))
    return model.model_validate(document)


def largest_commands() -> dict[str, BaseModel]:
    """The largest valid command of every kind (staff and the workflow's own), validated by its model."""
    return {kind: largest_valid(entry.model) for kind, entry in COMMANDS.items()}
