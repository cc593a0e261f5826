"""An event's payload as ODM items: every leaf field by its dotted path, with its ODM data type, read from the
payload model itself (so a new field is a new item without a line here). Lists and mappings are one text item
holding their JSON."""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from domain.journey.events import Event, EventPayload

_DISCRIMINATOR = "type"  # the payload's kind: the item group says it already


@dataclass(frozen=True)
class Leaf:
    path: str  # dotted, as the command registry's units name fields ("findings.max_temperature_c")
    data_type: str  # ODM 1.3.2 DataType: text, integer, float, date, datetime, boolean
    choices: tuple[str, ...] = ()  # the allowed values of an enumerated text field


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else str  # a union of several types: its text
    return annotation


def _leaves_of(annotation: Any, path: str) -> list[Leaf]:
    annotation = _without_none(annotation)
    if get_origin(annotation) is Literal:
        return [Leaf(path, "text", tuple(str(choice) for choice in get_args(annotation)))]
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return model_leaves(annotation, f"{path}.")
        if issubclass(annotation, bool):
            return [Leaf(path, "boolean")]
        if issubclass(annotation, Enum):
            return [Leaf(path, "text", tuple(str(member.value) for member in annotation))]
        if issubclass(annotation, int):
            return [Leaf(path, "integer")]
        if issubclass(annotation, float):
            return [Leaf(path, "float")]
        if issubclass(annotation, datetime):
            return [Leaf(path, "datetime")]
        if issubclass(annotation, date):
            return [Leaf(path, "date")]
    if (
        get_origin(annotation) is not None
        and get_args(annotation)
        and get_origin(annotation) not in (tuple, list, dict)
    ):
        return _leaves_of(get_args(annotation)[0], path)  # Annotated[...] and the like
    return [Leaf(path, "text")]


def model_leaves(model: type[BaseModel], prefix: str = "") -> list[Leaf]:
    """Every leaf field of `model`, in declaration order."""
    leaves: list[Leaf] = []
    for name, info in model.model_fields.items():
        if (not prefix and name == _DISCRIMINATOR) or info.repr is False:
            continue  # a field kept out of reprs is PHI (the date of birth): never exported
        leaves.extend(_leaves_of(info.annotation, f"{prefix}{name}"))
    return leaves


def _text(value: Any, data_type: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if data_type == "float" and isinstance(value, int | float):
        return repr(float(value))
    return str(value)


def item_values(payload: EventPayload) -> dict[str, str]:
    """The payload's leaves that hold a value, as the text ODM carries (JSON spellings: ISO dates, true/false)."""
    document = payload.model_dump(mode="json")
    values: dict[str, str] = {}
    for leaf in model_leaves(type(payload)):
        value: Any = document
        for part in leaf.path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            values[leaf.path] = _text(value, leaf.data_type)
    return values


def is_correction(event: Event) -> bool:
    return getattr(event.payload, "supersedes", None) is not None
