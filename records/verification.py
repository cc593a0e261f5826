"""Checking the hash chain: every edited, deleted, inserted or reordered event, found and named in words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.protocol import FrozenModel
from records.events import ChainHead
from records.hashing import GENESIS_HASH, event_hash


class ProblemKind(StrEnum):
    ALTERED = "altered"  # the row's contents no longer match its hash
    MISSING = "missing"  # a sequence number is absent: an event was deleted
    BROKEN_LINK = "broken_link"  # the row does not point at the hash of the event before it
    DUPLICATED = "duplicated"  # one sequence number stored twice
    REORDERED = "reordered"  # stored in a different order than the sequence says
    TRUNCATED = "truncated"  # events known to exist elsewhere (a published head, a summary) are gone
    SUMMARY_DIFFERS = "summary_differs"  # a patient summary is not what their events fold to


class VerificationProblem(FrozenModel):
    study_id: str
    sequence: int
    kind: ProblemKind
    description: str


class VerificationReport(FrozenModel):
    """The outcome of a verification: `ok` when no problem was found in any checked event."""

    checked_studies: int
    checked_events: int
    problems: tuple[VerificationProblem, ...] = ()
    # What the record was compared with beyond its own chain, in words (the journeys' workflows, the checkpoints).
    witnesses: tuple[str, ...] = ()
    # Problems of the checkpoint file itself (a bad signature, a broken chain of lines): no patient's own.
    checkpoint_problems: tuple[str, ...] = ()
    # What could not be compared (a workflow that did not answer, no checkpoint key): not failures, but said.
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems and not self.checkpoint_problems

    @property
    def failing_studies(self) -> tuple[str, ...]:
        """Every patient with at least one problem, in order."""
        return tuple(sorted({problem.study_id for problem in self.problems}))

    def describe(self) -> str:
        if self.ok:
            lines = [
                f"the trial record is intact: {_count(self.checked_events, 'event')} of "
                f"{_count(self.checked_studies, 'patient')} checked, every hash and link matches"
            ]
        else:
            found = len(self.problems) + len(self.checkpoint_problems)
            lines = [f"the trial record has {_count(found, 'problem')}:"]
            lines += [f"- {problem.description}" for problem in self.problems]
            lines += [f"- {problem}" for problem in self.checkpoint_problems]
        lines += [f"compared with {witness}" for witness in self.witnesses]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@dataclass(frozen=True)
class ChainRow:
    """One stored row as read back, every column the hash covers plus its storage position."""

    row_id: int
    study_id: str
    sequence: int
    event_type: str
    occurred_at: datetime
    recorded_at: datetime
    actor_user_id: str
    actor_role: str
    protocol_version: str
    payload: str
    reason: str | None
    previous_hash: str
    hash: str

    def columns(self) -> dict[str, Any]:
        """The row's stored columns by name (its storage position left out)."""
        return {field.name: getattr(self, field.name) for field in fields(self) if field.name != "row_id"}

    def recomputed_hash(self) -> str:
        return event_hash(self.columns())


def chain_problems(study_id: str, rows: Iterable[ChainRow]) -> list[VerificationProblem]:
    """Every problem in one patient's chain; `rows` must come ordered by sequence (then storage position)."""
    problems: list[VerificationProblem] = []

    def problem(sequence: int, kind: ProblemKind, description: str) -> None:
        problems.append(VerificationProblem(study_id=study_id, sequence=sequence, kind=kind, description=description))

    expected_sequence = 1
    previous: ChainRow | None = None
    for row in rows:
        sequence = row.sequence
        if previous is not None and sequence == previous.sequence:
            problem(sequence, ProblemKind.DUPLICATED, f"event {sequence} of {study_id} is stored more than once")
        elif sequence > expected_sequence:
            missing = (
                f"event {expected_sequence} is"
                if sequence == expected_sequence + 1
                else f"events {expected_sequence} to {sequence - 1} are"
            )
            problem(
                expected_sequence,
                ProblemKind.MISSING,
                f"{missing} missing from the record of {study_id} (deleted after being recorded?)",
            )

        if row.recomputed_hash() != row.hash:
            problem(
                sequence,
                ProblemKind.ALTERED,
                f"event {sequence} of {study_id} was changed after it was recorded: "
                "its contents no longer match its hash",
            )

        expected_link = GENESIS_HASH if previous is None else previous.hash
        if row.previous_hash != expected_link:
            if previous is None:
                where = "it should be the first event of the chain, but it points at an earlier one"
            else:
                where = f"it does not point at event {previous.sequence}, the one stored before it"
            problem(
                sequence,
                ProblemKind.BROKEN_LINK,
                f"event {sequence} of {study_id} is not linked to its predecessor: {where} "
                "(an event was deleted, inserted, reordered or altered)",
            )

        if previous is not None and row.row_id < previous.row_id:
            problem(
                sequence,
                ProblemKind.REORDERED,
                f"event {sequence} of {study_id} was stored before event {previous.sequence}: "
                "the order of the events was changed",
            )

        previous = row
        expected_sequence = max(expected_sequence, sequence + 1)
    return problems


def truncation_problems(
    study_id: str,
    last_row: ChainRow | None,
    stored_hashes: Mapping[int, str],
    known_heads: Iterable[ChainHead],
    summarised_through: int | None,
) -> list[VerificationProblem]:
    """Events known to exist (published heads, the patient's summary) that the record no longer has."""
    problems: list[VerificationProblem] = []
    last_sequence = 0 if last_row is None else last_row.sequence
    ends = "holds no event" if last_row is None else f"ends at event {last_sequence}"
    for head in known_heads:
        if head.sequence > last_sequence:
            problems.append(
                VerificationProblem(
                    study_id=study_id,
                    sequence=head.sequence,
                    kind=ProblemKind.TRUNCATED,
                    description=(
                        f"the record of {study_id} {ends}, but {head.witness} holds event {head.sequence}: "
                        f"events {last_sequence + 1} to {head.sequence} are missing (deleted or rolled back)"
                    ),
                )
            )
        elif stored_hashes.get(head.sequence) != head.hash:
            problems.append(
                VerificationProblem(
                    study_id=study_id,
                    sequence=head.sequence,
                    kind=ProblemKind.ALTERED,
                    description=(
                        f"event {head.sequence} of {study_id} is not the one recorded: its hash differs from the "
                        f"one {head.witness} holds (the record was rewritten)"
                    ),
                )
            )
    if summarised_through is not None and summarised_through > last_sequence:
        problems.append(
            VerificationProblem(
                study_id=study_id,
                sequence=summarised_through,
                kind=ProblemKind.TRUNCATED,
                description=(
                    f"the summary of {study_id} was built from events up to {summarised_through}, "
                    f"but the record {ends}: events were deleted"
                ),
            )
        )
    return problems
