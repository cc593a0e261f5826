"""The TRIALFLOW_* variables the processes read, derived from the one settings model (config/settings.py)."""

from __future__ import annotations

from typing import Any, get_args

from pydantic.fields import FieldInfo
from pydantic.types import PathType

from config.settings import ENV_PREFIX, Settings


def setting_variables() -> dict[str, str]:
    """Each environment variable the settings model reads, mapped to its field."""
    variables = {}
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        variables[(alias if isinstance(alias, str) else f"{ENV_PREFIX}{name}").upper()] = name
    return variables


def _names_an_existing_file(annotation: Any) -> bool:
    metadata = getattr(annotation, "__metadata__", ())
    if any(isinstance(item, PathType) and item.path_type == "file" for item in metadata):
        return True
    return any(_names_an_existing_file(argument) for argument in get_args(annotation))


def file_settings() -> set[str]:
    """Variables whose value must name an existing file (FilePath): in a container, a mounted one."""
    variables = setting_variables()
    return {variable for variable, name in variables.items() if _must_exist(Settings.model_fields[name])}


def _must_exist(info: FieldInfo) -> bool:
    own = any(isinstance(item, PathType) and item.path_type == "file" for item in info.metadata)
    return own or _names_an_existing_file(info.annotation)
