"""The journey's `record` update takes StaffCommandMessage: the command's own JSON on the wire, decoded by one validator
for the process (a bare union got a new validator in every run: the SDK's converter caches type adapters per
workflow)."""

from __future__ import annotations

from pydantic import TypeAdapter
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.workflow import _Definition

from domain.journey import commands as cmd
from tests.domain.journey_driver import INVESTIGATOR
from workflows.journey_messages import StaffCommandMessage
from workflows.patient_journey import PatientJourneyWorkflow

COMMAND = cmd.ConfirmEligibility(actor=INVESTIGATOR)


def test_the_record_update_takes_the_message_model() -> None:
    definition = _Definition.must_from_class(PatientJourneyWorkflow).updates["record"]
    assert definition.arg_types == [StaffCommandMessage]


def test_a_command_sent_as_clients_send_it_arrives_as_the_same_command() -> None:
    converter = pydantic_data_converter.payload_converter
    [payload] = converter.to_payloads([COMMAND])  # what the trial client sends: the command itself
    [message] = converter.from_payloads([payload], [StaffCommandMessage])
    assert isinstance(message, StaffCommandMessage) and message.root == COMMAND
    [resent] = converter.to_payloads([message])
    assert resent.data == payload.data  # the same bytes either way: histories replay, clients need not change


def test_a_type_adapter_for_the_message_reuses_the_models_one_validator() -> None:
    # The SDK's converter makes a TypeAdapter per type per workflow: for the model it is the class's own validator,
    # for the bare union a new one every time (what each run paid before).
    assert TypeAdapter(StaffCommandMessage).validator is StaffCommandMessage.__pydantic_validator__
    assert TypeAdapter(cmd.StaffCommand).validator is not TypeAdapter(cmd.StaffCommand).validator
