"""The sealing a Temporal client does as commands leave it (security/command_seal.py), for the trial's API and for
the journey worker's activities alike: every update to a journey or to the trial, the trial's `report` signal and
the trial's start (its own start seal, so a signal-with-start carries both).

Sealing at the last step, from what is actually sent, means the seal covers exactly the command, update id and
workflow id that go out, whatever fields the command has (a signature added later is sealed too)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowHandle,
    WorkflowUpdateHandle,
)

from config.journey_ids import TRIAL_WORKFLOW_ID_PREFIX, study_id_of
from security.command_seal import SEAL_HEADER, seal
from security.keys import SealKeyring

# Named, not imported: security sits below workflows.
TRIAL_WORKFLOW: Final = "TrialWorkflow"
# The trial's start is sealed in a header of its own: a signal-with-start sends one set of headers for both.
START_SEAL_HEADER: Final = "trialflow-start-seal"


def seal_subject(workflow_id: str) -> str | None:
    """What a seal is bound to: a journey's study id, or the trial workflow's id; None for any other workflow."""
    study_id = study_id_of(workflow_id)
    if study_id is not None:
        return study_id
    return workflow_id if workflow_id.startswith(TRIAL_WORKFLOW_ID_PREFIX) else None


def _one_model(args: Sequence[Any]) -> BaseModel | None:
    return args[0] if len(args) == 1 and isinstance(args[0], BaseModel) else None


class SealingOutbound(OutboundInterceptor):
    """Seals what leaves for a journey or the trial with the active seal key, dated by `clock`."""

    def __init__(self, next: OutboundInterceptor, keyring: SealKeyring, clock: Callable[[], datetime]) -> None:
        super().__init__(next)
        self._keyring = keyring
        self._clock = clock

    def _seal(self, subject: str, message: BaseModel, key: str, body: BaseModel | None = None) -> Payload:
        return seal(
            self._keyring, study_id=subject, command=message, body=body, idempotency_key=key, issued_at=self._clock()
        )

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        subject = seal_subject(input.id)
        trial = _one_model(input.args) if input.workflow == TRIAL_WORKFLOW else None
        if subject is not None and trial is not None:
            headers: Mapping[str, Payload] = {**input.headers, START_SEAL_HEADER: self._seal(subject, trial, input.id)}
            signalled = _one_model(input.start_signal_args)
            if input.start_signal is not None and signalled is not None:
                headers = {**headers, SEAL_HEADER: self._seal(subject, signalled, input.start_signal)}
            input = dataclasses.replace(input, headers=headers)
        return await super().start_workflow(input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
        subject = seal_subject(input.id)
        command = _one_model(input.args)
        if subject is not None and command is not None:
            update_id = input.update_id or str(uuid.uuid4())  # the id is sealed: fixed here, not later by the SDK
            header = self._seal(subject, command, update_id)
            input = dataclasses.replace(input, update_id=update_id, headers={**input.headers, SEAL_HEADER: header})
        return await super().start_workflow_update(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        subject = seal_subject(input.id)
        message = _one_model(input.args)
        if subject is not None and message is not None:
            # Bound to the signal's name: a report's seal is no seal for another signal.
            input = dataclasses.replace(
                input, headers={**input.headers, SEAL_HEADER: self._seal(subject, message, input.signal)}
            )
        await super().signal_workflow(input)


class Sealer(Interceptor):
    def __init__(self, keyring: SealKeyring, clock: Callable[[], datetime]) -> None:
        self.keyring = keyring
        self.clock = clock

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return SealingOutbound(next, self.keyring, self.clock)


def with_sealer(client: Client, sealer: Interceptor) -> Client:
    """`client` (same connection, converter and interceptors) that also seals through `sealer`."""
    config = client.config()
    config["interceptors"] = [*config["interceptors"], sealer]
    return Client(**config)


def sealing_client(client: Client, keyring: SealKeyring, clock: Callable[[], datetime]) -> Client:
    """`client` that seals every update to a journey or the trial, the trial's signals and its start."""
    return with_sealer(client, Sealer(keyring, clock))
