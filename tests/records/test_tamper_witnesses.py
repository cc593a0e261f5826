"""The three rewrites of a patient's record that an intruder with database rights made, each caught now: on SQLite and
PostgreSQL, a journey run by a worker on a dev server, its head kept by its workflow, a reconciliation's signed
checkpoint, then the database edited behind their backs."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select, text, update
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.journey import commands as cmd
from domain.journey.reconciliation import MismatchKind
from domain.statistics import evaluate_stopping_rule
from facade import TrialClient
from records import EventStore, ProblemKind, VerificationReport
from records.event_rows import EVENT_COLUMNS, chain_row
from records.hashing import event_hash
from records.schema import patient_summaries, trial_events
from security.checkpoints import CheckpointLog
from security.keys import CheckpointKeyring, SealKeyring
from tests.domain.examples import icans_findings
from tests.domain.journey_driver import NURSE
from tests.facade.journeys import infused
from tests.records.conftest import BACKENDS, guards_lifted
from workers.dev_server import DevServer
from workers.worker import journey_worker
from workflows.reconciliation import ReconciliationInput, ReconciliationReport, ReconciliationWorkflow

STUDY = "TF-771"


@dataclass
class Witnessed:
    trial: TrialClient
    store: EventStore
    temporal: Client
    task_queue: str
    checkpoints: CheckpointLog

    async def reconcile(self) -> ReconciliationReport:
        return await self.temporal.execute_workflow(
            ReconciliationWorkflow.run,
            ReconciliationInput(),
            id=f"reconciliation-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    async with DevServer(data_dir=tmp_path_factory.mktemp("witnesses"), pick_free_ports=True) as s:
        yield await Client.connect(s.address, data_converter=pydantic_data_converter)


@pytest_asyncio.fixture(params=BACKENDS, loop_scope="session")
async def witnessed(request: pytest.FixtureRequest, dev_server: Client, tmp_path: Path) -> AsyncIterator[Witnessed]:
    """A patient infused and assessed for ICANS, then a reconciliation that signed a checkpoint of their head."""
    url = (
        f"sqlite:///{tmp_path / 'record.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("fresh_postgres_url")
    )
    store = EventStore(url)
    store.migrate()
    seal_keys = SealKeyring.new("test")
    checkpoints = CheckpointLog(tmp_path / "checkpoints.jsonl", CheckpointKeyring.new("c1"))
    task_queue = f"witnessed-{uuid.uuid4()}"
    try:
        async with journey_worker(
            dev_server, store, task_queue=task_queue, seal_keys=seal_keys, checkpoints=checkpoints
        ):
            trial = TrialClient(dev_server, store, task_queue=task_queue, seal_keys=seal_keys, checkpoints=checkpoints)
            await infused(trial, STUDY)
            now = datetime.now(UTC)
            await trial.record(STUDY, cmd.AssessIcans(actor=NURSE, assessed_at=now, findings=icans_findings()))
            witnessed = Witnessed(trial, store, dev_server, task_queue, checkpoints)
            reconciled = await witnessed.reconcile()
            assert reconciled.checkpoint == 1 and reconciled.mismatches == (), reconciled
            yield witnessed
            await dev_server.get_workflow_handle(f"patient-journey-{STUDY}").terminate("test over")
    finally:
        store.close()


def kinds(report: VerificationReport) -> set[tuple[str, ProblemKind]]:
    return {(p.study_id, p.kind) for p in report.problems}


async def test_an_untouched_record_verifies_against_its_workflow_and_checkpoint(witnessed: Witnessed) -> None:
    report = await witnessed.trial.verify()
    assert report.ok, report.describe()
    assert "the head each journey's workflow holds (1 of 1 journeys)" in report.describe()
    assert "checkpoint 1 (" in report.describe()
    head = witnessed.store.chain_head(STUDY)
    reading = witnessed.checkpoints.read()
    assert head is not None and reading.last is not None
    checkpointed = reading.last.head_of(STUDY)
    assert checkpointed is not None and (checkpointed.sequence, checkpointed.hash) == (head.sequence, head.hash)


async def test_a_rewritten_icans_grade_and_actor_with_recomputed_hashes_is_caught(witnessed: Witnessed) -> None:
    store = witnessed.store
    with guards_lifted(store) as connection:
        rows = [
            chain_row(r)
            for r in connection.execute(
                select(*EVENT_COLUMNS).where(trial_events.c.study_id == STUDY).order_by(trial_events.c.sequence)
            )
        ]
        icans = next(r for r in rows if r.event_type == "icans_assessed")
        previous_hash = next(r.hash for r in rows if r.sequence == icans.sequence - 1)
        for row in rows[rows.index(icans) :]:
            columns = row.columns()
            if row is icans:
                payload = json.loads(row.payload)
                payload["grade"] = 3
                columns["payload"] = json.dumps(payload, sort_keys=True, separators=(",", ":"))
                columns["actor_user_id"] = "dr.someone.else"
            columns["previous_hash"] = previous_hash
            columns["hash"] = event_hash(columns)  # the chain recomputed with records/hashing.py
            connection.execute(
                update(trial_events)
                .where(trial_events.c.id == row.row_id)
                .values(
                    payload=columns["payload"],
                    actor_user_id=columns["actor_user_id"],
                    previous_hash=previous_hash,
                    hash=columns["hash"],
                )
            )
            previous_hash = columns["hash"]

    assert store.verify().ok, "the chain alone is consistent again: only the witnesses can tell"
    report = await witnessed.trial.verify()
    assert not report.ok
    described = report.describe()
    assert "its hash differs from the one the journey's workflow holds" in described
    assert "its hash differs from the one checkpoint 1 (" in described
    assert kinds(report) >= {(STUDY, ProblemKind.ALTERED)}
    # The next reconciliation alerts supervisors at once, and carries the genuine head into its checkpoint.
    genuine = witnessed.checkpoints.read().last
    reconciled = await witnessed.reconcile()
    tampered = [m for m in reconciled.mismatches if m.kind is MismatchKind.RECORD_TAMPERED]
    assert tampered and all(m.study_id == STUDY and m.urgent for m in tampered), reconciled
    second = witnessed.checkpoints.read().last
    assert genuine is not None and second is not None and second.number == 2
    assert genuine.head_of(STUDY) is not None and second.head_of(STUDY) == genuine.head_of(STUDY)
    assert (await witnessed.trial.verify()).problems  # still caught against the newer checkpoint


async def test_a_deleted_last_event_with_its_summary_rolled_back_is_caught(witnessed: Witnessed) -> None:
    store = witnessed.store
    last = store.chain_head(STUDY)
    assert last is not None
    with guards_lifted(store) as connection:
        connection.execute(
            text("DELETE FROM trial_events WHERE study_id = :s AND sequence = :n"), {"s": STUDY, "n": last.sequence}
        )
        connection.execute(
            update(patient_summaries)
            .where(patient_summaries.c.study_id == STUDY)
            .values(updated_through_sequence=last.sequence - 1)
        )

    assert store.verify().ok, "the chain and the summary alone no longer show it"
    report = await witnessed.trial.verify()
    assert (STUDY, ProblemKind.TRUNCATED) in kinds(report)
    described = report.describe()
    assert f"but the journey's workflow holds event {last.sequence}" in described
    assert "but checkpoint 1 (" in described and "(deleted or rolled back)" in described


async def test_a_summary_edited_alone_is_caught_and_left_out_of_the_report(witnessed: Witnessed) -> None:
    store = witnessed.store
    honest = await witnessed.trial.report()
    assert honest.verification.verified and honest.toxicity.dose_limiting_toxicities == 0
    summary = store.patient_summary(STUDY)
    assert summary is not None
    forged = {**summary.summary, "highest_crs_grade": 4, "dose_limiting_toxicity": True}
    with store.engine.begin() as connection:  # the summaries are no guarded table: rebuilt from the events
        connection.execute(
            update(patient_summaries)
            .where(patient_summaries.c.study_id == STUDY)
            .values(payload=json.dumps(forged, sort_keys=True, separators=(",", ":")))
        )

    assert store.verify().ok, "the chain is untouched"
    report = await witnessed.trial.verify()
    assert kinds(report) == {(STUDY, ProblemKind.SUMMARY_DIFFERS)}
    assert "dose_limiting_toxicity, highest_crs_grade differ" in report.describe()

    shown = await witnessed.trial.report()
    assert shown.toxicity.dose_limiting_toxicities == 0 and shown.toxicity.highest_crs_grade[4] == 0
    assert shown.stopping_rule == evaluate_stopping_rule(0, 0, witnessed.trial.protocol.stopping_rule)
    assert not shown.verification.verified
    assert [p.study_id for p in shown.verification.excluded] == [STUDY]
    assert shown.verification.warning is not None and STUDY in shown.verification.warning
    assert shown.enrollment.patients == honest.enrollment.patients - 1
