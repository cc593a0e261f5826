"""The official XML schemas the exports are checked against, as the `odmlib` wheel ships them."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

from lxml import etree

ODM_1_3_2: Final = ("odm", "1.3.2", "ODM1-3-2.xsd")
DEFINE_2_1: Final = ("define", "2.1", "define2-1-0.xsd")


def schema_path(which: tuple[str, str, str]) -> Path:
    kind, version, name = which
    return Path(str(resources.files("odmlib") / "schemas" / kind / version / name))


@cache
def schema(which: tuple[str, str, str]) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schema_path(which))))


def schema_problems(document: bytes, which: tuple[str, str, str]) -> list[str]:
    """Every way `document` breaks the schema (empty when it is valid)."""
    checker = schema(which)
    if checker.validate(etree.fromstring(document)):
        return []
    return [f"line {error.line}: {error.message}" for error in checker.error_log]
