"""The reconciliation's checkpoint: the record checked against its witnesses (records/witnessed.py), then
every patient's head signed into the checkpoint file. A patient whose record fails keeps the head last checkpointed
(never the rewritten one), and each failure is a mismatch that supervisors are alerted to."""

from __future__ import annotations

import asyncio
from datetime import datetime

import structlog
from temporalio import activity
from temporalio.client import Client

from domain.journey.reconciliation import Mismatch, MismatchKind, mismatch
from domain.protocol import FrozenModel
from records import EventStore, VerificationReport
from records.witnessed import verify_with_witnesses
from security.checkpoints import CheckpointHead, CheckpointLog, CheckpointLogError, CheckpointReading

log = structlog.get_logger("trialflow.checkpoints")


class CheckpointInput(FrozenModel):
    as_of: datetime  # the reconciliation's moment: the checkpoint's time


class CheckpointResult(FrozenModel):
    checkpoint: int | None  # the number of the checkpoint written; None when none was (no key, or the file failed)
    patients: int  # heads in it
    mismatches: tuple[Mismatch, ...]  # every patient whose record failed verification
    problems: tuple[str, ...] = ()  # the checkpoint file's own problems, and why none was written


def tamper_mismatches(report: VerificationReport) -> list[Mismatch]:
    """One mismatch per problem found, urgent: a record that no longer matches its witnesses must be looked at now."""
    return [
        mismatch(
            problem.study_id,
            MismatchKind.RECORD_TAMPERED,
            f"the trial record failed verification: {problem.description}",
            [problem.kind.value, problem.sequence],
            urgent=True,
        )
        for problem in report.problems
    ]


def heads_to_sign(
    store_heads: list[CheckpointHead], failing: set[str], reading: CheckpointReading | None
) -> list[CheckpointHead]:
    """The record's heads, but the last checkpointed head for a failing patient or one the record no longer has."""
    previous = {head.study_id: head for head in (reading.last.heads if reading and reading.last else ())}
    heads = {head.study_id: head for head in store_heads if head.study_id not in failing}
    for study_id, head in previous.items():
        if study_id not in heads:
            heads[study_id] = head
    return [heads[study_id] for study_id in sorted(heads)]


class CheckpointActivities:
    """Verifies the record (`store`) against the journeys' workflows (`client`) and the checkpoint file, then adds a
    checkpoint (`checkpoints`; None or without a key: none is written, and the result says so)."""

    def __init__(self, client: Client, store: EventStore, checkpoints: CheckpointLog | None) -> None:
        self._client = client
        self._store = store
        self._checkpoints = checkpoints

    @activity.defn(name="checkpoint_record")
    async def checkpoint_record(self, request: CheckpointInput) -> CheckpointResult:
        reading = await asyncio.to_thread(self._checkpoints.read) if self._checkpoints is not None else None
        witness = self._checkpoints.witness(reading) if self._checkpoints is not None else None
        report = await verify_with_witnesses(self._store, self._client, witness)
        mismatches = tamper_mismatches(report)
        for found in mismatches:
            log.error("trial record failed verification", study_id=found.study_id, detail=found.detail)
        problems = list(report.checkpoint_problems)
        for problem in problems:
            log.error("checkpoint file problem", problem=problem)
        if self._checkpoints is None or not self._checkpoints.signs:
            return CheckpointResult(
                checkpoint=None,
                patients=0,
                mismatches=tuple(mismatches),
                problems=(*problems, "no checkpoint key is configured: no checkpoint written"),
            )
        store_heads = [
            CheckpointHead(study_id=head.study_id, sequence=head.sequence, hash=head.hash)
            for head in await asyncio.to_thread(self._store.chain_heads)
        ]
        heads = heads_to_sign(store_heads, set(report.failing_studies), reading)
        try:
            written = await asyncio.to_thread(self._checkpoints.append, heads, request.as_of)
        except CheckpointLogError as error:
            log.error("checkpoint not written", error=str(error))
            return CheckpointResult(
                checkpoint=None, patients=0, mismatches=tuple(mismatches), problems=(*problems, str(error))
            )
        log.info("checkpoint written", checkpoint=written.number, patients=len(heads), path=str(self._checkpoints.path))
        return CheckpointResult(
            checkpoint=written.number, patients=len(heads), mismatches=tuple(mismatches), problems=tuple(problems)
        )
