"""The permanent trial record: an append-only, hash-chained event store (SQLite by default, PostgreSQL by URL)
with projections for supervisors that are rebuilt from the events, never edited."""

from records.engine import DEFAULT_DATABASE_URL, create_record_engine
from records.errors import (
    ConcurrentAppendError,
    ConflictingEventError,
    DamagedRecordError,
    ProjectionError,
    RecordStoreError,
    SchemaNotReadyError,
    SequenceGapError,
)
from records.events import AppendResult, ChainHead, EventKey, RecordedEvent, StoredEvent
from records.hashing import GENESIS_HASH
from records.migrate import upgrade_to_head
from records.projections import CohortSummary, PatientSummary, ProjectionRebuild, SummaryWrite
from records.store import EventStore
from records.verification import ProblemKind, VerificationProblem, VerificationReport

__all__ = [
    "DEFAULT_DATABASE_URL",
    "GENESIS_HASH",
    "AppendResult",
    "ChainHead",
    "CohortSummary",
    "ConcurrentAppendError",
    "ConflictingEventError",
    "DamagedRecordError",
    "EventKey",
    "EventStore",
    "PatientSummary",
    "ProblemKind",
    "ProjectionError",
    "ProjectionRebuild",
    "RecordStoreError",
    "RecordedEvent",
    "SchemaNotReadyError",
    "SequenceGapError",
    "StoredEvent",
    "SummaryWrite",
    "VerificationProblem",
    "VerificationReport",
    "create_record_engine",
    "upgrade_to_head",
]
