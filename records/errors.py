"""Why the trial record refused something: each error names the study id and the event sequence involved."""

from __future__ import annotations


class RecordStoreError(Exception):
    """Base of every refusal by the trial record. Nothing was written when one is raised by `append`."""


class ConflictingEventError(RecordStoreError):
    """An event with this study id and sequence is already recorded with different content."""

    def __init__(self, study_id: str, sequence: int, differences: list[str]) -> None:
        self.study_id = study_id
        self.sequence = sequence
        self.differences = differences
        super().__init__(
            f"event {sequence} of {study_id} is already recorded with different content "
            f"({'; '.join(differences)}); the trial record is never overwritten, nothing was written"
        )


class SequenceGapError(RecordStoreError):
    """The event would leave a hole: the one before it is not recorded."""

    def __init__(self, study_id: str, sequence: int, last_recorded: int) -> None:
        self.study_id = study_id
        self.sequence = sequence
        self.last_recorded = last_recorded
        if last_recorded == 0:
            where = "no event of this patient is recorded yet, so the next one must be 1"
        else:
            where = f"the record ends at event {last_recorded}, so the next one must be {last_recorded + 1}"
        super().__init__(f"event {sequence} of {study_id} cannot be recorded: {where}; nothing was written")


class DamagedRecordError(RecordStoreError):
    """The stored chain itself is broken where an append needs it; run verify() to see every problem."""

    def __init__(self, study_id: str, sequence: int, problem: str) -> None:
        self.study_id = study_id
        self.sequence = sequence
        super().__init__(
            f"event {sequence} of {study_id} cannot be checked against the record: {problem}; "
            "nothing was written, run verify() on the trial record"
        )


class ConcurrentAppendError(RecordStoreError):
    """Other writers kept taking the same sequence numbers; the append gave up after its retries."""

    def __init__(self, study_ids: list[str], attempts: int) -> None:
        self.study_ids = study_ids
        self.attempts = attempts
        super().__init__(
            f"could not append events of {', '.join(study_ids)}: other writers appended the same sequence "
            f"numbers {attempts} times in a row; nothing was written, try again"
        )


class ProjectionError(RecordStoreError):
    """A projector returned something that is not a JSON object; no projection was replaced."""

    def __init__(self, what: str, problem: str) -> None:
        self.what = what
        super().__init__(f"the projection of {what} could not be stored: {problem}; projections are unchanged")


class SchemaNotReadyError(RecordStoreError):
    """The database has not been migrated to the schema this code expects."""

    def __init__(self, current: str | None, expected: str) -> None:
        self.current = current
        self.expected = expected
        found = "no trial-record schema" if current is None else f"schema revision {current}"
        super().__init__(
            f"the trial-record database has {found}, this code needs revision {expected}; "
            "run the migrations (EventStore.migrate() or records.migrate.upgrade_to_head(url))"
        )
