"""What staff may type into a command: every free-text field is bounded in length and in characters, here.

Two kinds: `FreeText` (reasons, causes, deviations: a few paragraphs, line breaks allowed) and `Label` (lot numbers,
form versions, codes, references: one line). Both refuse control characters and the invisible characters that can
make text read otherwise than it is (bidirectional overrides, line separators). The models enforce it, so the API
(422), the CLI (exit 2) and the workflow refuse the same, and the API schema shows each field's maxLength and
pattern. The error says the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from domain.record_limits import REASON_MAX_LENGTH

# A reason becomes the record's `reason` column: its limit is the record's.
FREE_TEXT_MAX_LENGTH = REASON_MAX_LENGTH
LABEL_MAX_LENGTH = 64
# A treatment regimen's name ("CCCG-ALL", "AIEOP-BFM 2017").
REGIMEN_MAX_LENGTH = 64
# An adverse event's CTCAE term ("Febrile neutropenia"), or the words for one the dictionary lacks.
ADVERSE_EVENT_TERM_MAX_LENGTH = 200

# Never typed on purpose: C0 and C1 controls, DEL, the line and paragraph separators, and the bidirectional
# embeddings, overrides and isolates (inclusive ranges of code points). Free text keeps tab, line feed and carriage
# return; a label is one line.
_INVISIBLE = (
    (0x00, 0x08),
    (0x0B, 0x0C),
    (0x0E, 0x1F),
    (0x7F, 0x9F),
    (0x2028, 0x2029),
    (0x202A, 0x202E),
    (0x2066, 0x2069),
)
_LINE_BREAKS = ((0x09, 0x0A), (0x0D, 0x0D))


def _characters(ranges: tuple[tuple[int, int], ...]) -> frozenset[str]:
    return frozenset(chr(code) for low, high in ranges for code in range(low, high + 1))


def _pattern(ranges: tuple[tuple[int, int], ...]) -> str:
    """A pattern that ECMA-262 (JSON schema), Python and Rust regular expressions read alike."""
    refused = "".join(f"\\u{low:04X}" + (f"-\\u{high:04X}" if high != low else "") for low, high in ranges)
    return f"^[^{refused}]*$"


FREE_TEXT_REFUSED = _characters(_INVISIBLE)
LABEL_REFUSED = _characters(_INVISIBLE + _LINE_BREAKS)
FREE_TEXT_PATTERN = _pattern(_INVISIBLE)
LABEL_PATTERN = _pattern(_INVISIBLE + _LINE_BREAKS)

FREE_TEXT_RULE = "printable characters only: no control or invisible formatting characters (line breaks are fine)"
LABEL_RULE = "one line of printable characters: no tab, line break, control or invisible formatting character"


@dataclass(frozen=True)
class Printable:
    """Refuses the `refused` characters with `rule` in the error; the JSON schema shows them as `pattern`."""

    refused: frozenset[str]
    pattern: str
    rule: str

    def _check(self, value: str) -> str:
        found = sorted({character for character in value if character in self.refused})
        if found:
            shown = ", ".join(f"U+{ord(character):04X}" for character in found)
            raise ValueError(f"{self.rule} (found {shown})")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


FREE_TEXT = Printable(FREE_TEXT_REFUSED, FREE_TEXT_PATTERN, FREE_TEXT_RULE)
LABEL = Printable(LABEL_REFUSED, LABEL_PATTERN, LABEL_RULE)

# Free text a person writes: never blank, never a novel.
FreeText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=FREE_TEXT_MAX_LENGTH), FREE_TEXT
]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=LABEL_MAX_LENGTH), LABEL]

RegimenName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=REGIMEN_MAX_LENGTH), LABEL
]
AdverseEventTerm = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ADVERSE_EVENT_TERM_MAX_LENGTH), LABEL
]
