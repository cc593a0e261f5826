"""Every typed field of every command is bounded in length and characters by the command's own model, and the
JSON schema every interface reads shows the same bounds."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.free_text import (
    FREE_TEXT_MAX_LENGTH,
    FREE_TEXT_PATTERN,
    FREE_TEXT_REFUSED,
    LABEL_MAX_LENGTH,
    LABEL_PATTERN,
    LABEL_REFUSED,
    LABEL_RULE,
    REGIMEN_MAX_LENGTH,
)
from domain.journey.commands import Command, EnrollPatient, RecordProductRelease, TakeOffStudy
from tests.domain.examples import screening

ACTOR = {"user_id": "cl.zhou", "role": "cell_lab"}
# Structured strings that are not typed text: their own patterns bound them.
TOKENS = {"study_id", "user_id", "signer_user_id", "signed_sha256"}


def string_fields(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"enum", "const", "format"} & node.keys():
            found.append((path, node))
        for key, value in node.items():
            found += string_fields(value, f"{path}/{key}")
    elif isinstance(node, list):
        for value in node:
            found += string_fields(value, path)
    return found


def test_every_typed_field_of_every_command_shows_its_length_and_characters_in_the_schema() -> None:
    fields = string_fields(TypeAdapter(Command).json_schema())
    assert len(fields) > 20
    for path, node in fields:
        assert "pattern" in node, path
        name = re.sub(r"/anyOf$", "", path.rsplit("/properties/", 1)[-1].split("/")[0])
        if name not in TOKENS:
            assert node["pattern"] in (FREE_TEXT_PATTERN, LABEL_PATTERN), path
            assert 1 <= node["maxLength"] <= FREE_TEXT_MAX_LENGTH, path


@pytest.mark.parametrize(
    "code",
    [
        *range(0x00, 0xA0),
        0x2028,
        0x2029,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0xA0,
        0xE9,
        0x4E2D,
        0x1F642,
        0x200B,
    ],
)
def test_the_schema_pattern_and_the_models_check_agree_on_every_character(code: int) -> None:
    character = chr(code)
    assert (re.fullmatch(LABEL_PATTERN, f"a{character}b") is None) == (character in LABEL_REFUSED)
    assert (re.fullmatch(FREE_TEXT_PATTERN, f"a{character}b") is None) == (character in FREE_TEXT_REFUSED)


def release(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "record_product_release",
        "actor": ACTOR,
        "product_label_coi": "TF-001-01-K",
        "lot_number": "LOT-2026-0042",
        "total_viable_car_cells": 9.1e7,
        "released_on": "2026-02-01",
        **overrides,
    }


def problems(model: Any, document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(document)
    return {".".join(str(part) for part in error["loc"]): error["msg"] for error in refused.value.errors()}


def test_an_over_long_label_and_a_control_character_are_both_named_with_their_rule() -> None:
    found = problems(RecordProductRelease, release(lot_number="L" * (LABEL_MAX_LENGTH + 1), product_label_coi="TF\x07"))
    assert found["lot_number"] == f"String should have at most {LABEL_MAX_LENGTH} characters"
    assert found["product_label_coi"] == f"Value error, {LABEL_RULE} (found U+0007)"


@pytest.mark.parametrize("text", ["line one\nline two", "tab\there", "right\u202eto left", "zero\x00"])
def test_a_label_is_one_printable_line(text: str) -> None:
    assert "lot_number" in problems(RecordProductRelease, release(lot_number=text))


def test_free_text_keeps_line_breaks_and_any_script_but_no_invisible_characters() -> None:
    reason = "家属决定退出。\nThe family decided.\tSee the note."
    taken = TakeOffStudy.model_validate({"actor": ACTOR | {"role": "investigator"}, "reason": reason})
    assert taken.reason == reason
    found = problems(TakeOffStudy, {"actor": ACTOR, "reason": "see \u202efile"})
    assert "U+202E" in found["reason"]
    assert "at most 2000 characters" in problems(TakeOffStudy, {"actor": ACTOR, "reason": "x" * 2001})["reason"]


def test_a_megabyte_regimen_is_refused_by_the_enrollment_itself() -> None:
    document = {
        "actor": {"user_id": "rc.chen", "role": "research_coordinator"},
        "study_id": "TF-001",
        "screening": screening().model_dump(mode="json") | {"regimen": "C" * 1_000_000},
    }
    found = problems(EnrollPatient, document)
    assert found == {"screening.regimen": f"String should have at most {REGIMEN_MAX_LENGTH} characters"}
