"""Step forms generated from the command registry: each command's fields read from its pydantic JSON schema (types,
ranges, lengths, choices, nesting), with the registry's units and help, turned into form fields; and a posted form
turned back into the command's values, every validation problem placed at its field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from domain.journey.command_registry import CommandEntry
from facade.plain_words import plain_validation_message

# Set by the web app, never by a form: the kind (the route), who acts (the session) and the signature (the PIN).
NOT_IN_FORM: Final = frozenset({"kind", "actor", "signature"})
# Where a problem of the whole form (not of one field) is filed.
FORM_WIDE: Final = ""


@dataclass(frozen=True)
class FormField:
    """One input: `name` is its dotted path in the command ("findings.max_temperature_c")."""

    name: str
    leaf: str  # the field's own name, for its words
    kind: str  # number, integer, date, datetime, text, textarea, choice, boolean
    required: bool
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # exclusive bounds: the value must be greater than this
    below: float | None = None
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    description: str | None = None

    @property
    def input_id(self) -> str:
        return "f-" + self.name.replace(".", "-")

    @property
    def step(self) -> str:
        return "1" if self.kind == "integer" else "any"

    @property
    def low(self) -> float | None:
        return self.minimum if self.minimum is not None else self.above

    @property
    def high(self) -> float | None:
        return self.maximum if self.maximum is not None else self.below


@dataclass(frozen=True)
class FormGroup:
    """A nested model's fields under its own legend; `optional`: left empty, the whole group is left out."""

    name: str
    leaf: str
    optional: bool
    items: tuple[FormField | FormGroup, ...] = field(default_factory=tuple)

    @property
    def group_id(self) -> str:
        return "g-" + self.name.replace(".", "-")


def form_of(entry: CommandEntry) -> tuple[FormField | FormGroup, ...]:
    """The inputs of `entry`'s command, in its fields' order."""
    schema = entry.model.model_json_schema()
    return _items(schema, schema.get("$defs", {}), "", entry.units, optional_group=False)


def _items(
    schema: Mapping[str, Any], defs: Mapping[str, Any], prefix: str, units: Mapping[str, str], optional_group: bool
) -> tuple[FormField | FormGroup, ...]:
    required = set(schema.get("required", ()))
    found: list[FormField | FormGroup] = []
    for name, spec in schema.get("properties", {}).items():
        if not prefix and name in NOT_IN_FORM:
            continue
        path = f"{prefix}{name}"
        shape, nullable = _unwrapped(spec, defs)
        if shape.get("type") == "array":
            continue  # lists of findings (other tests of a disease assessment) are the API's and the CLI's for now
        is_required = name in required and not nullable and not optional_group
        if shape.get("type") == "object" and "properties" in shape:
            optional = not is_required
            nested = _items(shape, defs, path + ".", units, optional_group=optional)
            found.append(FormGroup(name=path, leaf=name, optional=optional, items=nested))
            continue
        found.append(_field(path, name, shape, is_required, units.get(path), spec.get("description")))
    return tuple(found)


def _unwrapped(spec: Mapping[str, Any], defs: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """The field's own schema (its $ref followed, `X | None` undone) and whether None is allowed."""
    nullable = False
    options = spec.get("anyOf")
    if options:
        kept = [o for o in options if o.get("type") != "null"]
        nullable = len(kept) < len(options)
        spec = {**kept[0], **{k: v for k, v in spec.items() if k not in ("anyOf", "default")}}
    ref = spec.get("$ref")
    if ref:
        spec = {**defs[ref.rsplit("/", 1)[-1]], **{k: v for k, v in spec.items() if k != "$ref"}}
    return spec, nullable or spec.get("default", "required") is None


def _field(
    path: str, leaf: str, shape: Mapping[str, Any], required: bool, unit: str | None, description: str | None
) -> FormField:
    kind_of = shape.get("type")
    choices: tuple[str, ...] = ()
    if "enum" in shape:
        kind, choices = "choice", tuple(str(value) for value in shape["enum"])
    elif "const" in shape:
        kind, choices = "choice", (str(shape["const"]),)
    elif kind_of == "boolean":
        kind = "boolean"
    elif kind_of == "integer":
        kind = "integer"
    elif kind_of == "number":
        kind = "number"
    elif shape.get("format") == "date":
        kind = "date"
    elif shape.get("format") == "date-time":
        kind = "datetime"
    else:
        kind = "textarea" if (shape.get("maxLength") or 0) > 200 else "text"
    return FormField(
        name=path,
        leaf=leaf,
        kind=kind,
        required=required,
        unit=unit,
        minimum=shape.get("minimum"),
        maximum=shape.get("maximum"),
        above=shape.get("exclusiveMinimum"),
        below=shape.get("exclusiveMaximum"),
        max_length=shape.get("maxLength"),
        choices=choices,
        description=description or shape.get("description"),
    )


def leaves(items: Sequence[FormField | FormGroup]) -> list[FormField]:
    found: list[FormField] = []
    for item in items:
        found.extend(leaves(item.items) if isinstance(item, FormGroup) else [item])
    return found


def posted_values(items: Sequence[FormField | FormGroup], form: Mapping[str, str], site_offset: str) -> dict[str, Any]:
    """The form's values nested as the command's fields: empty inputs left out (None), an optional group left
    out when every input in it is empty, a site-time moment given the site's UTC offset ("+08:00")."""
    values: dict[str, Any] = {}
    for item in items:
        if isinstance(item, FormGroup):
            nested = posted_values(item.items, form, site_offset)
            if nested or not item.optional:
                values[item.leaf] = nested
            continue
        raw = form.get(item.name, "").strip()
        if raw == "":
            continue
        if item.kind == "datetime" and len(raw) <= len("2026-12-06T09:30:00"):
            raw = (raw if raw.count(":") == 2 else raw + ":00") + site_offset  # datetime-local has no zone
        values[item.leaf] = raw
    return values


def problems_by_field(error: ValidationError, known: set[str]) -> dict[str, list[str]]:
    """Every problem in words, under the dotted path of its input (FORM_WIDE for the form's own, or a group's)."""
    found: dict[str, list[str]] = {}
    for detail in error.errors(include_url=False):
        path = ".".join(str(part) for part in detail["loc"])
        where = path if path in known else _nearest(path, known)
        found.setdefault(where, []).append(_words(detail))
    return found


def _nearest(path: str, known: set[str]) -> str:
    """A model's own check (findings: "vasopressors are recorded but hypotension is not") is filed at its group."""
    parts = path.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return FORM_WIDE


def _words(detail: ErrorDetails) -> str:
    if detail["type"] == "value_error":
        return str(detail["msg"]).removeprefix("Value error, ")
    return plain_validation_message(detail)


def group_names(items: Sequence[FormField | FormGroup]) -> set[str]:
    found: set[str] = set()
    for item in items:
        if isinstance(item, FormGroup):
            found |= {item.name} | group_names(item.items)
    return found


def shown_value(value: Any) -> str:
    """A command's value as its input holds it (tests and prefilled forms)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
