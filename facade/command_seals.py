"""The trial client's side of command seals (security/command_seal.py): a client interceptor that seals, as they
leave, every staff command (a journey's updates), every enrollment (a journey's start) and every message to the
trial (its updates, its `report` signal, its start) in Temporal headers. All but the journey's start are sealed by
security/client_seals.py, which the journey worker's activities use too."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio.client import Client, Interceptor, OutboundInterceptor, StartWorkflowInput, WorkflowHandle

from config.journey_ids import study_id_of
from security.client_seals import SealingOutbound, with_sealer
from security.command_seal import SEAL_HEADER, seal
from security.keys import SealKeyring
from workflows.journey_messages import JourneyInput
from workflows.patient_journey import PatientJourneyWorkflow

JOURNEY_WORKFLOW = PatientJourneyWorkflow.__name__


class CommandSealer(Interceptor):
    """Seals the journey's and the trial's commands with the active seal key, dated by `clock` (the trial client's)."""

    def __init__(self, keyring: SealKeyring, clock: Callable[[], datetime]) -> None:
        self.keyring = keyring
        self.clock = clock

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _SealingOutbound(next, self)


class _SealingOutbound(SealingOutbound):
    def __init__(self, next: OutboundInterceptor, sealer: CommandSealer) -> None:
        super().__init__(next, sealer.keyring, sealer.clock)
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


def sealing_client(client: Client, keyring: SealKeyring, clock: Callable[[], datetime]) -> Client:
    """`client` (same connection, converter and interceptors) that also seals the journey's and trial's commands."""
    return with_sealer(client, CommandSealer(keyring, clock))
