"""The permanent trial record: an append-only, hash-chained event store with rebuildable projections.

Appends are idempotent on (study id, sequence), all-or-nothing, and serialized per patient: the chain never forks.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from records.engine import DEFAULT_DATABASE_URL, WRITE_TRANSACTION, create_record_engine
from records.errors import (
    ConcurrentAppendError,
    ConflictingEventError,
    DamagedRecordError,
    ProjectionError,
    SchemaNotReadyError,
    SequenceGapError,
)
from records.event_rows import EVENT_COLUMNS, chain_row, stored_event, table_values
from records.events import AppendResult, ChainHead, EventKey, RecordedEvent, StoredEvent
from records.hashing import GENESIS_HASH, canonical_json
from records.migrate import current_revision, head_revision, upgrade_engine_to_head
from records.projections import (
    PHASE_KEY,
    CohortProjector,
    CohortSummary,
    PatientProjector,
    PatientSummary,
    ProjectionRebuild,
    SummaryWrite,
)
from records.schema import patient_summaries, trial_events
from records.verification import (
    VerificationProblem,
    VerificationReport,
    chain_problems,
    truncation_problems,
)

if TYPE_CHECKING:
    from typing import TypeAlias

    AnyRow: TypeAlias = Row[*tuple[Any, ...]]

DEFAULT_APPEND_ATTEMPTS = 5
_SEQUENCE_CLASH_MARKERS = ("uq_trial_events_study_sequence", "trial_events.study_id, trial_events.sequence")
_PHASE_MAX_LENGTH = 64
_READ_BATCH = 1000


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EventStore:
    """The trial record over one database (SQLite file by default, PostgreSQL by URL). Thread-safe."""

    def __init__(
        self,
        url: str | URL = DEFAULT_DATABASE_URL,
        *,
        engine: Engine | None = None,
        clock: Callable[[], datetime] = _utc_now,
        append_attempts: int = DEFAULT_APPEND_ATTEMPTS,
    ) -> None:
        self._engine = engine if engine is not None else create_record_engine(url)
        # Same pool, but its transactions announce that they write (BEGIN IMMEDIATE on SQLite).
        self._writer = self._engine.execution_options(**{WRITE_TRANSACTION: True})
        self._clock = clock
        self._append_attempts = max(1, append_attempts)
        # On SQLite a step's summary is written in its append's transaction (see `append`).
        self._summaries_with_events = self._engine.dialect.name == "sqlite"

    # ------------------------------------------------------------------ lifecycle and schema

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        upgrade_engine_to_head(self._engine)

    def check_schema(self) -> None:
        """Raise SchemaNotReadyError unless the database is at the revision this code expects."""
        current, expected = current_revision(self._engine), head_revision()
        if current != expected:
            raise SchemaNotReadyError(current, expected)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ appending

    def append(self, events: Sequence[RecordedEvent], summaries: Sequence[SummaryWrite] = ()) -> AppendResult:
        """Record `events` in one transaction: new ones are chained and written, identical ones already in
        the record are reported as such. A conflicting event or a gap refuses the whole batch (nothing is
        written). `summaries`, folded by the caller through these events, are saved as `save_patient_summary` does
        once the events are: on SQLite in the same transaction (one commit, one fsync per step; a rebuild of the
        summaries holds the one write lock either way), on PostgreSQL in a transaction of their own after it (a
        rebuild locks the summaries for its whole run, and must not hold the steps' events back)."""
        batch = _batch_by_study(events)
        if not batch:
            return AppendResult()
        together = self._summaries_with_events
        for _attempt in range(self._append_attempts):
            try:
                with self._writer.begin() as connection:
                    result = self._append_batch(connection, batch)
                    for write in summaries if together else ():
                        self._save_summary(connection, write)
                break
            except IntegrityError as error:
                if not any(marker in str(error.orig) for marker in _SEQUENCE_CLASH_MARKERS):
                    raise
                # Another writer took one of these sequence numbers first (UNIQUE(study_id, sequence) has the last
                # word): read again; each event is then already recorded, refused as conflicting, or appended after.
        else:
            raise ConcurrentAppendError(sorted(batch), self._append_attempts)
        for write in () if together else summaries:
            with self._writer.begin() as connection:
                self._save_summary(connection, write)
        return result

    def _append_batch(self, connection: Connection, batch: Mapping[str, list[RecordedEvent]]) -> AppendResult:
        recorded_at = self._clock()
        recorded: list[EventKey] = []
        already: list[EventKey] = []
        rows: list[dict[str, Any]] = []
        for study_id in sorted(batch):  # a fixed lock order: two multi-patient appends cannot deadlock
            self._lock_patient(connection, study_id)
            study_events = batch[study_id]
            # The head first: rows at or below it are committed and stay, so the second read must find them
            # (without the lock, under READ COMMITTED, each statement may see later commits than the last).
            head = connection.execute(
                select(trial_events.c.sequence, trial_events.c.hash)
                .where(trial_events.c.study_id == study_id)
                .order_by(trial_events.c.sequence.desc())
                .limit(1)
            ).first()
            last_sequence, last_hash = (0, GENESIS_HASH) if head is None else (head.sequence, head.hash)
            first, last = study_events[0].sequence, min(study_events[-1].sequence, last_sequence)
            stored = {
                row.sequence: row
                for row in connection.execute(
                    select(*EVENT_COLUMNS).where(
                        trial_events.c.study_id == study_id,
                        trial_events.c.sequence.between(first, last),
                    )
                )
            }

            for event in study_events:
                if event.sequence <= last_sequence:
                    existing = stored.get(event.sequence)
                    if existing is None:
                        raise DamagedRecordError(
                            study_id,
                            event.sequence,
                            f"the record has later events but no event {event.sequence}",
                        )
                    differences = _differences(existing, event)
                    if differences:
                        raise ConflictingEventError(study_id, event.sequence, differences)
                    already.append(EventKey(study_id=study_id, sequence=event.sequence, hash=existing.hash))
                    continue
                if event.sequence != last_sequence + 1:
                    raise SequenceGapError(study_id, event.sequence, last_sequence)
                row = table_values(event, recorded_at=recorded_at, previous_hash=last_hash)
                rows.append(row)
                recorded.append(EventKey(study_id=study_id, sequence=event.sequence, hash=row["hash"]))
                last_sequence, last_hash = event.sequence, row["hash"]
        if rows:
            connection.execute(insert(trial_events), rows)
        return AppendResult(recorded=tuple(recorded), already_recorded=tuple(already))

    def _lock_patient(self, connection: Connection, study_id: str) -> None:
        if self.dialect == "postgresql":
            # Held until commit; other patients (bar a rare 64-bit hash collision) are not held up.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:study_id, 0))"), {"study_id": study_id}
            )
        # SQLite: BEGIN IMMEDIATE already made this the only writer of the whole database.

    # ------------------------------------------------------------------ reading

    def events_for(self, study_id: str, after_sequence: int = 0) -> list[RecordedEvent]:
        """The patient's events after `after_sequence`, in sequence order."""
        return [stored.event for stored in self.stored_events_for(study_id, after_sequence)]

    def stored_events_for(self, study_id: str, after_sequence: int = 0) -> list[StoredEvent]:
        """As `events_for`, with when each was recorded and its place in the hash chain."""
        with self._engine.connect() as connection:
            result = connection.execute(
                select(*EVENT_COLUMNS)
                .where(trial_events.c.study_id == study_id, trial_events.c.sequence > after_sequence)
                .order_by(trial_events.c.sequence)
            )
            return [stored_event(row) for row in result]

    def study_ids(self) -> list[str]:
        """Every patient with at least one recorded event, in order."""
        with self._engine.connect() as connection:
            return list(
                connection.scalars(select(trial_events.c.study_id).distinct().order_by(trial_events.c.study_id))
            )

    def last_sequence(self, study_id: str) -> int:
        """The highest recorded sequence of the patient, 0 when nothing is recorded."""
        head = self.chain_head(study_id)
        return 0 if head is None else head.sequence

    def chain_head(self, study_id: str) -> ChainHead | None:
        """The patient's last event and its hash (publish it to detect a truncated record later)."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(trial_events.c.sequence, trial_events.c.hash)
                .where(trial_events.c.study_id == study_id)
                .order_by(trial_events.c.sequence.desc())
                .limit(1)
            ).first()
        return None if row is None else ChainHead(study_id=study_id, sequence=row.sequence, hash=row.hash)

    def chain_heads(self) -> list[ChainHead]:
        """Every patient's last event and its hash, in study-id order (what a checkpoint signs)."""
        last = (
            select(trial_events.c.study_id, func.max(trial_events.c.sequence).label("sequence"))
            .group_by(trial_events.c.study_id)
            .subquery()
        )
        query = (
            select(trial_events.c.study_id, trial_events.c.sequence, trial_events.c.hash)
            .join(
                last,
                (trial_events.c.study_id == last.c.study_id) & (trial_events.c.sequence == last.c.sequence),
            )
            .order_by(trial_events.c.study_id)
        )
        with self._engine.connect() as connection:
            return [
                ChainHead(study_id=row.study_id, sequence=row.sequence, hash=row.hash)
                for row in connection.execute(query)
            ]

    # ------------------------------------------------------------------ verification

    def verify(self, study_id: str | None = None, *, known_heads: Iterable[ChainHead] = ()) -> VerificationReport:
        """Recompute every hash and link of one patient's chain, or of all; report every problem found.

        `known_heads` (published earlier, e.g. by the workflow) and patient summaries also reveal events removed from
        the end of a chain, which the chain alone cannot show."""
        heads_by_study: dict[str, list[ChainHead]] = {}
        for head in known_heads:
            if study_id is None or head.study_id == study_id:
                heads_by_study.setdefault(head.study_id, []).append(head)

        problems: list[VerificationProblem] = []
        checked_events = 0
        checked_studies: set[str] = set()
        with self._engine.connect() as connection:
            summaries_query = select(patient_summaries.c.study_id, patient_summaries.c.updated_through_sequence)
            if study_id is not None:
                summaries_query = summaries_query.where(patient_summaries.c.study_id == study_id)
            summarised = {row.study_id: row.updated_through_sequence for row in connection.execute(summaries_query)}
            query = select(*EVENT_COLUMNS).order_by(trial_events.c.study_id, trial_events.c.sequence, trial_events.c.id)
            if study_id is not None:
                query = query.where(trial_events.c.study_id == study_id)
            result = connection.execution_options(yield_per=_READ_BATCH).execute(query)
            for chain_study, study_rows in itertools.groupby(result, key=lambda row: row.study_id):
                chain = [chain_row(row) for row in study_rows]
                checked_studies.add(chain_study)
                checked_events += len(chain)
                problems += chain_problems(chain_study, chain)
                problems += truncation_problems(
                    chain_study,
                    chain[-1],
                    {row.sequence: row.hash for row in chain},
                    heads_by_study.get(chain_study, ()),
                    summarised.get(chain_study),
                )
        # Patients the record no longer has at all, though a head or a summary says they had events.
        for missing_study in sorted((set(heads_by_study) | set(summarised)) - checked_studies):
            checked_studies.add(missing_study)
            problems += truncation_problems(
                missing_study, None, {}, heads_by_study.get(missing_study, ()), summarised.get(missing_study)
            )
        return VerificationReport(
            checked_studies=len(checked_studies), checked_events=checked_events, problems=tuple(problems)
        )

    # ------------------------------------------------------------------ projections

    def rebuild_projections(
        self,
        project_patient: PatientProjector,
        *,
        study_ids: Iterable[str] | None = None,
    ) -> ProjectionRebuild:
        """Recompute patient summaries from their events (all, or only `study_ids`), replacing what was there, in
        one transaction. The cohort is counted from the summaries when asked (`cohort_summary`), never stored:
        an append then costs one patient's events, not a pass over every patient."""
        only = None if study_ids is None else sorted(set(study_ids))
        rebuilt_at = self._clock()
        with self._writer.begin() as connection:
            if self.dialect == "postgresql":
                # One writer of the summaries at a time (SQLite's write transaction is one already): a retried
                # append and a full rebuild never both replace a patient's row. Readers are not blocked.
                connection.execute(text("LOCK TABLE patient_summaries IN EXCLUSIVE MODE"))
            query = select(*EVENT_COLUMNS).order_by(trial_events.c.study_id, trial_events.c.sequence)
            if only is not None:
                query = query.where(trial_events.c.study_id.in_(only))
            summary_rows: list[dict[str, Any]] = []
            events_read = 0
            for study_id, study_rows in itertools.groupby(connection.execute(query), key=lambda row: row.study_id):
                events = [stored_event(row).event for row in study_rows]
                events_read += len(events)
                summary = project_patient(study_id, events)
                summary_rows.append(_summary_row(study_id, summary, events[-1].sequence, rebuilt_at))
            if only is None:
                connection.execute(delete(patient_summaries))
            else:
                connection.execute(delete(patient_summaries).where(patient_summaries.c.study_id.in_(only)))
            if summary_rows:
                connection.execute(insert(patient_summaries), summary_rows)
        return ProjectionRebuild(patients_rebuilt=len(summary_rows), events_read=events_read)

    def save_patient_summary(self, study_id: str, summary: dict[str, Any], through_sequence: int) -> bool:
        """Replace one patient's summary with `summary`, folded from their events 1..`through_sequence` by the
        caller, unless the stored one is folded further (a late writer never puts an older summary back).
        True when written."""
        with self._writer.begin() as connection:
            return self._save_summary(
                connection, SummaryWrite(study_id=study_id, summary=summary, through_sequence=through_sequence)
            )

    def _save_summary(self, connection: Connection, write: SummaryWrite) -> bool:
        if self.dialect == "postgresql":
            connection.execute(text("LOCK TABLE patient_summaries IN EXCLUSIVE MODE"))  # as rebuild_projections
        stored = connection.execute(
            select(patient_summaries.c.updated_through_sequence).where(patient_summaries.c.study_id == write.study_id)
        ).scalar_one_or_none()
        if stored is not None and stored > write.through_sequence:
            return False
        row = _summary_row(write.study_id, write.summary, write.through_sequence, self._clock())
        connection.execute(delete(patient_summaries).where(patient_summaries.c.study_id == write.study_id))
        connection.execute(insert(patient_summaries), [row])
        return True

    def patient_summary(self, study_id: str) -> PatientSummary | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(patient_summaries).where(patient_summaries.c.study_id == study_id)).first()
        return None if row is None else _patient_summary(row)

    def patient_summaries(self, phase: str | None = None) -> list[PatientSummary]:
        """Every patient summary in study-id order, or those in `phase`."""
        query = select(patient_summaries).order_by(patient_summaries.c.study_id)
        if phase is not None:
            query = query.where(patient_summaries.c.phase == phase)
        with self._engine.connect() as connection:
            return [_patient_summary(row) for row in connection.execute(query)]

    def cohort_summary(self, project_cohort: CohortProjector) -> CohortSummary:
        """The cohort, counted now from every patient summary (one snapshot: the counts agree with each other)."""
        reader = self._engine
        if self.dialect == "postgresql":
            reader = reader.execution_options(isolation_level="REPEATABLE READ")  # one snapshot for both reads
        with reader.connect() as connection, connection.begin():
            rows = connection.execute(
                select(patient_summaries.c.payload, patient_summaries.c.rebuilt_at).order_by(
                    patient_summaries.c.study_id
                )
            ).all()
            event_count = connection.scalar(select(func.count()).select_from(trial_events)) or 0
        summaries = [json.loads(row.payload) for row in rows]
        return CohortSummary(
            patient_count=len(summaries),
            event_count=event_count,
            rebuilt_at=max((row.rebuilt_at for row in rows), default=self._clock()),
            summary=_json_object(project_cohort(summaries), "the cohort"),
        )


# ---------------------------------------------------------------------- helpers


def _batch_by_study(events: Iterable[RecordedEvent]) -> dict[str, list[RecordedEvent]]:
    """Events grouped per patient in sequence order; a repeat inside the batch must be identical."""
    by_key: dict[tuple[str, int], RecordedEvent] = {}
    for event in events:
        key = (event.study_id, event.sequence)
        earlier = by_key.get(key)
        if earlier is None:
            by_key[key] = event
        elif earlier.content() != event.content():
            differences = [
                f"{name} differs" for name, value in earlier.content().items() if event.content()[name] != value
            ]
            raise ConflictingEventError(event.study_id, event.sequence, [*differences, "both in the same batch"])
    batch: dict[str, list[RecordedEvent]] = {}
    for study_id, sequence in sorted(by_key):
        batch.setdefault(study_id, []).append(by_key[(study_id, sequence)])
    return batch


def _differences(stored: AnyRow, event: RecordedEvent) -> list[str]:
    """What differs between a stored row and an event offered again, in words (payload and reason stay out)."""
    differences = []
    for name in ("event_type", "actor_user_id", "actor_role", "protocol_version"):
        if getattr(stored, name) != getattr(event, name):
            differences.append(f"{name} is {getattr(stored, name)!r} in the record, {getattr(event, name)!r} now")
    if stored.occurred_at != event.occurred_at:
        differences.append(
            f"occurred_at is {stored.occurred_at.isoformat()} in the record, {event.occurred_at.isoformat()} now"
        )
    if stored.payload != event.payload_json:
        differences.append("the payload differs")
    if stored.reason != event.reason:
        differences.append(_reason_difference(stored.reason, event.reason))
    return differences


def _reason_difference(recorded: str | None, offered: str | None) -> str:
    """Like the payload, the reason's words stay out of error messages and logs."""
    if recorded is None:
        return "the reason differs: the record has none, one is given now"
    if offered is None:
        return "the reason differs: the record has one, none is given now"
    return "the reason differs"


def _summary_row(study_id: str, summary: object, through_sequence: int, rebuilt_at: datetime) -> dict[str, Any]:
    checked = _json_object(summary, f"patient {study_id}")
    return {
        "study_id": study_id,
        "phase": _phase_of(checked, study_id),
        "updated_through_sequence": through_sequence,
        "rebuilt_at": rebuilt_at,
        "payload": canonical_json(checked),
    }


def _patient_summary(row: AnyRow) -> PatientSummary:
    return PatientSummary(
        study_id=row.study_id,
        phase=row.phase,
        updated_through_sequence=row.updated_through_sequence,
        rebuilt_at=row.rebuilt_at,
        summary=json.loads(row.payload),
    )


def _json_object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProjectionError(what, f"the projector returned {type(value).__name__}, not a JSON object")
    try:
        canonical_json(value)
    except (TypeError, ValueError) as error:
        raise ProjectionError(what, f"it is not plain JSON ({error})") from error
    return value


def _phase_of(summary: Mapping[str, Any], study_id: str) -> str | None:
    phase = summary.get(PHASE_KEY)
    if phase is None:
        return None
    if not isinstance(phase, str) or len(phase) > _PHASE_MAX_LENGTH:
        raise ProjectionError(
            f"patient {study_id}", f"its {PHASE_KEY!r} must be text of at most {_PHASE_MAX_LENGTH} characters"
        )
    return str(phase)
