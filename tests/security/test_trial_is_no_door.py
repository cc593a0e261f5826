"""The trial's doors are sealed too (issue 15): against a dev server with payload encryption and command seals on, the
stock `temporal` CLI and a client holding the payload key but no seal key can neither forge a DSMB decision, nor an
admission, nor a journey's report (a forged DLT or infusion), nor start the trial with a state of their own. The real
path (sealed by the trial client and by the journey worker's report activity) still works."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer

from config.journey_ids import journey_workflow_id, trial_workflow_id
from domain.journey.phases import ExitReason, Phase
from domain.protocol import CURRENT_PROTOCOL
from domain.roles import Actor, Role
from domain.signature import SignatureMeaning, sign
from domain.trial.reports import DsmbDecision, DsmbOutcome, JourneyReport, ReportKind
from domain.trial.state import Enrollment
from domain.trial.status import TrialStatus
from facade import CommandRefused, TrialClient
from records import EventStore
from security import PayloadKeyring, encrypted_data_converter, new_key
from security.client_seals import sealing_client
from security.command_seal import SEAL_REFUSED
from security.keys import SealKeyring
from tests.facade.journeys import enrollment
from tests.security.stock_cli import temporal_cli
from tests.waiting import poll
from workers.command_seals import SealCheck
from workers.dev_server import DevServer
from workers.worker import journey_worker
from workflows.trial_messages import AdmissionBatch, AdmissionRequest, TrialInput
from workflows.trial_workflow import TrialWorkflow

PAYLOAD_KEYS = PayloadKeyring("k1", {"k1": base64.b64decode(new_key())})
SEAL_KEYS = SealKeyring("s1", {"s1": bytes(range(32))})
DSMB = Actor(user_id="dsmb.chair", role=Role.DSMB)


@dataclass(frozen=True)
class TrialDoor:
    server: DevServer
    store: EventStore
    client: Client  # holds the payload key, seals nothing
    reporter: Client  # seals as the journey worker's report activity does
    task_queue: str
    trial: TrialClient  # the API's trial client: seals every command
    workflow_id: str

    def handle(self) -> WorkflowHandle[TrialWorkflow, None]:
        return self.client.get_workflow_handle_for(TrialWorkflow.run, self.workflow_id)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def door(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TrialDoor]:
    data_dir = tmp_path_factory.mktemp("trial-no-door")
    store = EventStore(f"sqlite:///{data_dir / 'trial-record.db'}")
    store.migrate()
    try:
        async with DevServer(data_dir=data_dir, pick_free_ports=True) as server:
            client = await Client.connect(server.address, data_converter=encrypted_data_converter(PAYLOAD_KEYS))
            task_queue = f"trial-door-{uuid.uuid4()}"
            async with journey_worker(client, store, task_queue=task_queue, seal_keys=SEAL_KEYS):
                trial = TrialClient(client, store, task_queue=task_queue, seal_keys=SEAL_KEYS)
                reporter = sealing_client(client, SEAL_KEYS, lambda: datetime.now(UTC))
                workflow_id = trial_workflow_id(CURRENT_PROTOCOL.accrual.trial_identifier, task_queue)
                yield TrialDoor(server, store, client, reporter, task_queue, trial, workflow_id)
    finally:
        store.close()


def report(study_id: str, kind: ReportKind) -> JourneyReport:
    return JourneyReport(event_id=f"{study_id}/{kind.value}", study_id=study_id, kind=kind, at=datetime.now(UTC))


async def sealed_report(door: TrialDoor, journey_report: JourneyReport) -> None:
    """As the journey worker's report activity sends it: a sealed signal-with-start."""
    await door.reporter.start_workflow(
        TrialWorkflow.run,
        TrialInput(trial_identifier=CURRENT_PROTOCOL.accrual.trial_identifier),
        id=door.workflow_id,
        task_queue=door.task_queue,
        start_signal="report",
        start_signal_args=[journey_report],
    )


async def status_when(door: TrialDoor, what: str, check: object) -> TrialStatus:
    async def answer() -> TrialStatus | None:
        status = await door.trial.trial_status()
        return status if check(status) else None  # type: ignore[operator]

    return await poll(answer, what)


def signed_decision(outcome: DsmbOutcome, decision_id: str) -> DsmbDecision:
    now = datetime.now(UTC)
    unsigned = DsmbDecision(
        decision_id=decision_id,
        actor=DSMB,
        outcome=outcome,
        decided_at=now,
        rationale="Both DLTs reviewed: expected CRS, managed per protocol; resume with closer monitoring.",
    )
    return sign(unsigned, signer_user_id=DSMB.user_id, printed_name="DSMB chair", signed_at=now,
                meaning=SignatureMeaning.APPROVAL)  # fmt: skip


def counted(status: TrialStatus, study_id: str) -> bool:
    return study_id in status.evaluable or any(p.study_id == study_id for p in status.pending)


async def test_a_forged_report_is_ignored_and_logged_and_a_sealed_one_counts(
    door: TrialDoor, caplog: pytest.LogCaptureFixture
) -> None:
    await sealed_report(door, report("TF-841", ReportKind.INFUSED))  # the real path: counted
    before = await status_when(door, "the sealed infusion counted", lambda s: counted(s, "TF-841"))

    # A forged DLT in clear from the stock CLI, then one encrypted with the payload key but unsealed.
    forged = report("TF-841", ReportKind.DOSE_LIMITING_TOXICITY).model_dump(mode="json")
    code, output = await temporal_cli(
        door, "workflow", "signal", "--workflow-id", door.workflow_id, "--name", "report", "--input", json.dumps(forged)
    )
    assert code == 0, output  # Temporal takes any signal: the trial must not
    await door.handle().signal(TrialWorkflow.report, report("TF-841", ReportKind.DOSE_LIMITING_TOXICITY))
    # A later sealed report counts, so the forged ones before it were handled: neither counted.
    await sealed_report(door, report("TF-842", ReportKind.INFUSED))
    status = await status_when(door, "the second sealed infusion counted", lambda s: counted(s, "TF-842"))
    assert status.stopping_rule.toxicities == before.stopping_rule.toxicities and "TF-841" not in status.evaluable

    async def logged() -> list[str] | None:
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("trial report ignored")]
        return lines or None

    [line] = await poll(logged, "the unsealed report logged")
    assert "dose_limiting_toxicity" in line and door.workflow_id in line and "TF-841" in line
    assert "carries no seal" in line


async def test_a_forged_dsmb_decision_is_refused_and_the_real_one_resumes_the_trial(door: TrialDoor) -> None:
    for study_id in ("TF-843", "TF-844", "TF-845"):
        await sealed_report(door, report(study_id, ReportKind.INFUSED))
        await sealed_report(door, report(study_id, ReportKind.DOSE_LIMITING_TOXICITY))
    paused = await status_when(door, "enrollment paused", lambda s: s.enrollment is Enrollment.PAUSED)

    # The stock CLI: a resume in clear.
    decision = signed_decision(DsmbOutcome.RESUME, "DSMB-FORGED-1")
    code, output = await temporal_cli(
        door, "workflow", "update", "execute", "--workflow-id", door.workflow_id, "--name", "dsmb_decision",
        "--input", decision.model_dump_json(),
    )  # fmt: skip
    assert code != 0, output
    # With the payload key but no seal key: a validly signed decision is still refused, for its missing seal.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await door.handle().execute_update(TrialWorkflow.dsmb_decision, decision, id="DSMB-FORGED-1")
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == SEAL_REFUSED and "no seal" in cause.message
    # A seal made with a guessed key, or a genuine one too old: refused too, with the reason.
    guessed = sealing_client(door.client, SealKeyring("s1", {"s1": bytes(range(1, 33))}), lambda: datetime.now(UTC))
    with pytest.raises(WorkflowUpdateFailedError) as forged_seal:
        await guessed.get_workflow_handle_for(TrialWorkflow.run, door.workflow_id).execute_update(
            TrialWorkflow.dsmb_decision, decision, id="DSMB-FORGED-1"
        )
    assert "does not match" in str(forged_seal.value.cause)
    late = TrialClient(door.client, door.store, task_queue=door.task_queue, seal_keys=SEAL_KEYS,
                       clock=lambda: datetime.now(UTC) - timedelta(minutes=10))  # fmt: skip
    with pytest.raises(CommandRefused, match="the trial refused the decision's seal: the command's seal is stale"):
        await late.dsmb_decision(decision)
    # Nor may they admit anyone past the pause's check.
    with pytest.raises(WorkflowUpdateFailedError) as not_admitted:
        await door.handle().execute_update(TrialWorkflow.admit, AdmissionRequest(study_id="TF-846"))
    assert isinstance(not_admitted.value.cause, ApplicationError)
    assert not_admitted.value.cause.type == SEAL_REFUSED
    # Nor in a batch, the door the trial client's admissions take.
    with pytest.raises(WorkflowUpdateFailedError) as not_admitted:
        await door.handle().execute_update(TrialWorkflow.admit_all, AdmissionBatch(study_ids=("TF-846", "TF-848")))
    assert isinstance(not_admitted.value.cause, ApplicationError)
    assert not_admitted.value.cause.type == SEAL_REFUSED

    unchanged = await door.trial.trial_status()
    assert unchanged.enrollment is Enrollment.PAUSED and unchanged.decisions == ()
    assert unchanged.admitted == paused.admitted

    # The real path: the same decision, sealed by the API's trial client, resumes enrollment.
    resumed = await door.trial.dsmb_decision(signed_decision(DsmbOutcome.RESUME, "DSMB-REAL-1"))
    assert resumed.enrollment is Enrollment.OPEN
    assert [d.decision_id for d in resumed.decisions] == ["DSMB-REAL-1"]


async def test_a_forged_start_of_a_trial_fails_at_once(door: TrialDoor) -> None:
    workflow_id = trial_workflow_id("TX-FORGED", door.task_queue)
    forged = {"trial_identifier": "TX-FORGED", "carried": {"trial_identifier": "TX-FORGED", "enrollment": "open"}}
    handle = await door.client.start_workflow(
        TrialWorkflow.run,
        TrialInput.model_validate(forged),
        id=workflow_id,
        task_queue=door.task_queue,
    )

    async def failed() -> bool | None:
        return True if (await handle.describe()).status is WorkflowExecutionStatus.FAILED else None

    await poll(failed, "the unsealed trial start fails at once")


async def test_the_dsmb_stop_reaches_journeys_sealed_and_a_forged_one_is_refused(door: TrialDoor) -> None:
    """On a trial of its own (a stop closes its trial for good): the trial's activity seals the journey's update."""
    task_queue = f"trial-stop-door-{uuid.uuid4()}"
    async with journey_worker(door.client, door.store, task_queue=task_queue, seal_keys=SEAL_KEYS):
        trial = TrialClient(door.client, door.store, task_queue=task_queue, seal_keys=SEAL_KEYS)
        await trial.enroll(enrollment("TF-847"))  # admitted by its trial, then enrolled: not yet infused
        before = [e.event_type for e in door.store.events_for("TF-847")]

        forged = {"actor": {"user_id": "forged.nokey", "role": "dsmb"}, "kind": "trial_stopped",
                  "decision_id": "DSMB-FORGED-2"}  # fmt: skip
        code, output = await temporal_cli(
            door, "workflow", "update", "execute", "--workflow-id", journey_workflow_id("TF-847"),
            "--name", "trial_stopped", "--input", json.dumps(forged),
        )  # fmt: skip
        assert code != 0, output
        assert [e.event_type for e in door.store.events_for("TF-847")] == before

        await trial.dsmb_decision(signed_decision(DsmbOutcome.STOP, "DSMB-STOP-1"))

        async def off_study() -> bool | None:
            status = await trial.status("TF-847")
            return True if status.phase is Phase.OFF_STUDY else None

        await poll(off_study, "the sealed stop reached the journey")
        status = await trial.status("TF-847")
        assert status.exit is not None and status.exit.reason is ExitReason.TRIAL_STOPPED
        [stop] = [e for e in door.store.events_for("TF-847") if e.event_type == "trial_stopped"]
        assert stop.actor_user_id == DSMB.user_id


async def test_the_trials_history_with_dropped_and_counted_reports_replays(door: TrialDoor) -> None:
    """The seal check is deterministic: replayed with the same keys, the dropped report is dropped again and the sealed
    one counted again, the patch markers where they were."""
    await sealed_report(door, report("TF-850", ReportKind.INFUSED))  # the trial runs (whatever ran before)
    await door.handle().signal(TrialWorkflow.report, report("TF-848", ReportKind.INFUSED))  # unsealed: dropped
    await sealed_report(door, report("TF-849", ReportKind.INFUSED))
    await status_when(door, "the sealed report counted", lambda s: counted(s, "TF-849"))
    history = await door.handle().fetch_history()

    replayer = Replayer(
        workflows=[TrialWorkflow],
        interceptors=[SealCheck(SEAL_KEYS)],
        data_converter=encrypted_data_converter(PAYLOAD_KEYS),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
