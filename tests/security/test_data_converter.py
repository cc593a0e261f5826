"""The project's data converter: the SDK's pydantic payloads, with type adapters built once per process."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

from temporalio.contrib.pydantic import pydantic_data_converter

from bench.journey_steps import INVESTIGATOR, enrollment
from domain.journey import commands as cmd
from domain.journey.commands import StaffCommand
from security import data_converter
from security.data_converter import TrialPayloadConverter, trial_data_converter
from workflows.journey_messages import JourneyInput

INFUSED_AT = datetime(2026, 12, 1, 10, tzinfo=UTC)
VALUES = [
    JourneyInput(study_id="TF-901", enrollment=enrollment("TF-901", INFUSED_AT)),
    cmd.ConfirmEligibility(actor=INVESTIGATOR),
    None,
    {"plain": [1, 2.5, "three"]},
    b"bytes",
]


def test_payloads_are_byte_for_byte_the_sdks_pydantic_ones() -> None:
    ours = trial_data_converter.payload_converter.to_payloads(VALUES)
    stock = pydantic_data_converter.payload_converter.to_payloads(VALUES)
    assert ours == stock
    hints = [JourneyInput, StaffCommand, type(None), dict, bytes]
    assert trial_data_converter.payload_converter.from_payloads(stock, hints) == VALUES


def test_every_new_converter_uses_the_adapters_already_built() -> None:
    # The SDK makes a converter for each workflow it runs or replays: the union of staff commands is built once.
    payloads = trial_data_converter.payload_converter.to_payloads([cmd.ConfirmEligibility(actor=INVESTIGATOR)])
    data_converter.shared_type_adapter.cache_clear()
    with mock.patch.object(data_converter, "TypeAdapter", wraps=data_converter.TypeAdapter) as built:
        for _ in range(3):
            assert TrialPayloadConverter().from_payloads(payloads, [StaffCommand]) == [
                cmd.ConfirmEligibility(actor=INVESTIGATOR)
            ]
    assert built.call_count == 1
