"""The trial client's side of command seals (security/command_seal.py): a client interceptor that seals every staff
command (the journey's `record` update) and every enrollment (the journey's start) as it leaves, in a Temporal header.

Sealing at the last step, from what is actually sent, means the seal covers exactly the command, update id and
workflow id that go out, whatever fields the command has (a signature added later is sealed too)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowHandle,
    WorkflowUpdateHandle,
)

from config.journey_ids import study_id_of
from security.command_seal import SEAL_HEADER, seal
from security.keys import SealKeyring
from workflows.journey_messages import JourneyInput
from workflows.patient_journey import PatientJourneyWorkflow

JOURNEY_WORKFLOW = PatientJourneyWorkflow.__name__
RECORD_UPDATE = "record"


class CommandSealer(Interceptor):
    """Seals the journey's commands with the active seal key, dated by `clock` (the trial client's)."""

    def __init__(self, keyring: SealKeyring, clock: Callable[[], datetime]) -> None:
        self.keyring = keyring
        self.clock = clock

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _SealingOutbound(next, self)


class _SealingOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, sealer: CommandSealer) -> None:
        super().__init__(next)
        self._sealer = sealer

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        study_id = study_id_of(input.id)
        [journey] = input.args if input.workflow == JOURNEY_WORKFLOW and len(input.args) == 1 else [None]
        if study_id is not None and isinstance(journey, JourneyInput) and journey.enrollment is not None:
            header = seal(
                self._sealer.keyring,
                study_id=study_id,
                command=journey.enrollment,
                body=journey,
                idempotency_key=input.id,  # a study id is enrolled once: its workflow id is the enrollment's key
                issued_at=self._sealer.clock(),
            )
            input = dataclasses.replace(input, headers={**input.headers, SEAL_HEADER: header})
        return await super().start_workflow(input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
        study_id = study_id_of(input.id)
        if study_id is not None and input.update == RECORD_UPDATE and len(input.args) == 1:
            [command] = input.args
            if isinstance(command, BaseModel):
                update_id = input.update_id or str(uuid.uuid4())  # the id is sealed: fixed here, not later by the SDK
                header = seal(
                    self._sealer.keyring,
                    study_id=study_id,
                    command=command,
                    idempotency_key=update_id,
                    issued_at=self._sealer.clock(),
                )
                input = dataclasses.replace(input, update_id=update_id, headers={**input.headers, SEAL_HEADER: header})
        return await super().start_workflow_update(input)


def sealing_client(client: Client, keyring: SealKeyring, clock: Callable[[], datetime]) -> Client:
    """`client` (same connection, converter and interceptors) that also seals the journey's commands."""
    config = client.config()
    config["interceptors"] = [*config["interceptors"], CommandSealer(keyring, clock)]
    return Client(**config)
