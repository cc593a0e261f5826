"""The models whose content signatures and seals cover: every command (nested models included) and the journey's
start input (its enrollment; a continued run's carried state is never sealed)."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from domain.journey.commands import Command
from workflows.journey_messages import JourneyInput

NEVER_SEALED = {(JourneyInput, "carried")}


def entered_models() -> dict[str, type[BaseModel]]:
    """Every model reachable from a command or the journey's start, by dotted name."""
    found: dict[str, type[BaseModel]] = {}
    _walk(Command, found)
    _walk(JourneyInput, found)
    return found


def entered_fields() -> dict[str, list[str]]:
    return {name: sorted(model.model_fields) for name, model in sorted(entered_models().items())}


def _walk(annotation: Any, found: dict[str, type[BaseModel]]) -> None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        name = f"{annotation.__module__}.{annotation.__qualname__}"
        if name in found:
            return
        found[name] = annotation
        for field_name, field in annotation.model_fields.items():
            if (annotation, field_name) not in NEVER_SEALED:
                _walk(field.annotation, found)
        return
    for argument in typing.get_args(annotation):
        _walk(argument, found)
