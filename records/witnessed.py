"""The trial record checked against witnesses outside its database: each journey's workflow (the head the append
returned it, kept in Temporal's history: config/journey_heads.py) and the last signed checkpoint
(security/checkpoints.py); and every patient summary against its events folded again. `trial verify`, the report
and the reconciliation's checkpoint all come here, so they judge alike."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from temporalio.client import Client

from config.journey_heads import journey_heads
from records.events import ChainHead
from records.store import EventStore
from records.summary_check import summary_problems
from records.verification import VerificationReport

WORKFLOW_WITNESS = "the journey's workflow"


class _Head(Protocol):
    @property
    def study_id(self) -> str: ...
    @property
    def sequence(self) -> int: ...
    @property
    def hash(self) -> str: ...


class CheckpointWitness(Protocol):
    """security.checkpoints.CheckpointWitness, as this floor reads it (the two never import each other)."""

    @property
    def heads(self) -> Sequence[_Head]: ...
    @property
    def name(self) -> str | None: ...
    @property
    def location(self) -> str: ...
    @property
    def problems(self) -> Sequence[str]: ...
    @property
    def notes(self) -> Sequence[str]: ...


async def verify_with_witnesses(
    store: EventStore, client: Client | None, checkpoint: CheckpointWitness | None
) -> VerificationReport:
    """The record's chain, checked against the journeys' workflows (`client`; None: Temporal is not reachable) and
    the last signed checkpoint (None: no checkpoint file is configured), and every patient summary folded again."""
    witnesses: list[str] = []
    notes: list[str] = []
    known: list[ChainHead] = []
    if client is not None:
        study_ids = await asyncio.to_thread(store.study_ids)
        asked = await journey_heads(client, study_ids)
        known += [
            ChainHead(study_id=h.study_id, sequence=h.sequence, hash=h.hash, witness=WORKFLOW_WITNESS)
            for h in asked.heads
        ]
        witnesses.append(f"the head each journey's workflow holds ({len(asked.heads)} of {len(study_ids)} journeys)")
        if asked.unanswered:
            notes.append(f"these journeys' workflows did not answer: {', '.join(asked.unanswered)}")
        if asked.without_head:
            notes.append(
                "these journeys' workflows hold no head (closed past retention, stopped, or started before heads "
                f"were kept; their checkpoint witnesses them): {', '.join(asked.without_head)}"
            )
    else:
        notes.append("the journeys' workflows were not asked: Temporal is not reachable from here")
    if checkpoint is None:
        notes.append("no checkpoint file is configured")
    else:
        notes += checkpoint.notes
        if checkpoint.name is not None:
            witnesses.append(f"{checkpoint.name}, the last signed one of {checkpoint.location}")
            known += [
                ChainHead(study_id=h.study_id, sequence=h.sequence, hash=h.hash, witness=checkpoint.name)
                for h in checkpoint.heads
            ]

    def check() -> VerificationReport:
        chain = store.verify(known_heads=known)
        problems = sorted([*chain.problems, *summary_problems(store)], key=lambda p: (p.study_id, p.sequence))
        return chain.model_copy(
            update={
                "problems": tuple(problems),
                "witnesses": (*witnesses, "each patient summary folded again from its events"),
                "checkpoint_problems": tuple(checkpoint.problems) if checkpoint is not None else (),
                "notes": tuple(notes),
            }
        )

    return await asyncio.to_thread(check)
