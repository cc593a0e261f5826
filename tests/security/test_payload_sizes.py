"""The largest valid command of every kind, encoded as a worker sends it (pydantic, encrypted), stays far below
Temporal's payload limit: no valid command can fail a workflow task on its size."""

from __future__ import annotations

import base64

import pytest
from pydantic import BaseModel

from config.temporal_limits import LARGEST_COMMAND_SHARE, PAYLOAD_LIMIT_BYTES
from domain.free_text import FREE_TEXT_MAX_LENGTH
from domain.journey.commands import EnrollPatient
from domain.protocol import FrozenModel
from security.data_converter import encrypted_data_converter
from security.keys import PayloadKeyring, new_key
from tests.domain.largest_commands import WIDEST, Unbounded, largest_commands, largest_document
from workflows.journey_messages import JourneyInput

LARGEST = largest_commands()
CONVERTER = encrypted_data_converter(PayloadKeyring("k1", {"k1": base64.b64decode(new_key())}))
BUDGET = PAYLOAD_LIMIT_BYTES * LARGEST_COMMAND_SHARE


async def encoded_size(value: BaseModel) -> int:
    [payload] = await CONVERTER.encode([value])
    return payload.ByteSize()


@pytest.mark.parametrize("kind", sorted(LARGEST))
async def test_the_largest_command_of_each_kind_stays_far_below_the_payload_limit(kind: str) -> None:
    size = await encoded_size(LARGEST[kind])
    assert size < BUDGET, f"{kind}: {size} bytes encoded, more than {BUDGET:.0f}"


async def test_the_largest_enrollment_starts_a_journey_far_below_the_payload_limit() -> None:
    enrollment = LARGEST["enroll_patient"]
    assert isinstance(enrollment, EnrollPatient)
    size = await encoded_size(JourneyInput(study_id=enrollment.study_id, enrollment=enrollment))
    assert size < BUDGET, f"{size} bytes encoded, more than {BUDGET:.0f}"


def test_the_largest_commands_fill_every_text_to_its_limit() -> None:
    """The builder does what it says: the longest reason is at the free-text limit, in four-byte characters."""
    take_off = LARGEST["take_off_study"].model_dump()
    assert take_off["reason"] == WIDEST * FREE_TEXT_MAX_LENGTH
    assert len(LARGEST["record_disease_assessment"].model_dump()["other_tests"]) == 10


def test_a_field_without_a_bound_is_caught() -> None:
    class Unbounded_(FrozenModel):
        note: str

    with pytest.raises(Unbounded, match="note: a string without maxLength"):
        largest_document(Unbounded_)
