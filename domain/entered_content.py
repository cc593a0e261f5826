"""What a person entered, as JSON values: the content signatures (domain/signature.py) and command seals
(security/command_seal.py) cover.

Commands grow fields as the protocol and the review ask. A field added to a command model after entries were signed
or sealed is marked `added_later(...)` and left out of the content while it holds its default: an entry made before
the field existed then still verifies, when its journey replays and when the record is audited. A field taken away
is written back by its model as it was entered (see `AssessCrs`). tests/domain/test_entered_content.py holds the
models' fields as they were and fails on a field added without the mark."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, Field

ADDED_LATER: Final = "added_later"


def added_later(default: Any, **field_options: Any) -> Any:
    """A pydantic Field for a command field added after entries were signed: left out of what signatures and seals
    cover while it holds `default`."""
    return Field(default=default, json_schema_extra={ADDED_LATER: True}, **field_options)


def entered_content(model: BaseModel, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """`model` as JSON values without `exclude`d fields and without later fields left at their defaults."""
    document: dict[str, Any] = model.model_dump(mode="json", exclude=set(exclude))
    return _without_later_defaults(model, document)


def is_added_later(model: type[BaseModel], name: str) -> bool:
    extra = model.model_fields[name].json_schema_extra
    return isinstance(extra, dict) and extra.get(ADDED_LATER) is True


def _without_later_defaults(model: BaseModel, document: dict[str, Any]) -> dict[str, Any]:
    for name, field in type(model).model_fields.items():
        if name not in document:
            continue
        value = getattr(model, name)
        if is_added_later(type(model), name) and value == field.get_default(call_default_factory=True):
            del document[name]
        elif isinstance(value, BaseModel) and isinstance(document[name], dict):
            document[name] = _without_later_defaults(value, document[name])
    return document
