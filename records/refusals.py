"""Refused attempts: every write the trial client refused (the role may not, the protocol does not allow it, the
patient is unknown or their journey has ended), so supervisors can audit who tried what and why it was refused.

Append-only, outside the hash chain (an attempt changes nothing); reasons are protocol sentences, never typed values."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, Field

from domain.protocol import FrozenModel
from domain.record_limits import ActorRoleName, ActorUserId
from records.engine import WRITE_TRANSACTION
from records.schema import refused_attempts

if TYPE_CHECKING:
    from typing import TypeAlias

    from sqlalchemy import Engine, Row

    AnyRow: TypeAlias = Row[*tuple[Any, ...]]

_table = refused_attempts
UPDATE_ID_MAX_LENGTH = 128
REASON_MAX_LENGTH = 2000  # one sentence of protocol text; a longer one is cut, never refused


class RefusedAttempt(FrozenModel):
    """One refused write: who (user and role) tried which command on which patient, when, and every reason."""

    attempted_at: AwareDatetime
    study_id: str = Field(min_length=1, max_length=32)
    actor_user_id: ActorUserId
    actor_role: ActorRoleName
    command_kind: str = Field(min_length=1, max_length=64, description="The command's kind, e.g. record_infusion")
    refusal: str = Field(
        min_length=1,
        max_length=32,
        description="Why, in one word: the trial client's error code (forbidden, command_refused, unknown_patient, "
        "journey_closed, already_enrolled)",
    )
    reasons: tuple[str, ...] = Field(min_length=1, description="Every reason, one plain sentence each")
    update_id: str | None = Field(default=None, description="The update id (Idempotency-Key) the attempt was sent with")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RefusedAttemptLog:
    """Refused attempts in the trial record's database. Thread-safe (one engine, a connection per call)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_TRANSACTION: True})
        self._clock = clock

    def record(
        self,
        *,
        study_id: str,
        actor_user_id: str,
        actor_role: str,
        command_kind: str,
        refusal: str,
        reasons: Sequence[str],
        update_id: str | None = None,
    ) -> RefusedAttempt:
        """Keep one refused attempt, stamped now; returns it as stored."""
        attempt = RefusedAttempt(
            attempted_at=self._clock(),
            study_id=study_id,
            actor_user_id=actor_user_id,
            actor_role=actor_role,
            command_kind=command_kind,
            refusal=refusal,
            reasons=tuple(reason[:REASON_MAX_LENGTH] for reason in reasons) or ("refused without a reason",),
            update_id=update_id[:UPDATE_ID_MAX_LENGTH] if update_id else None,
        )
        values = attempt.model_dump(exclude={"reasons"})
        with self._writer.begin() as connection:
            connection.execute(_table.insert().values(**values, reasons=json.dumps(list(attempt.reasons))))
        return attempt

    def for_patient(self, study_id: str) -> list[RefusedAttempt]:
        """The patient's refused attempts, oldest first."""
        query = _table.select().where(_table.c.study_id == study_id).order_by(_table.c.attempted_at, _table.c.id)
        with self._engine.connect() as connection:
            return [_attempt(row) for row in connection.execute(query)]


def _attempt(row: AnyRow) -> RefusedAttempt:
    return RefusedAttempt(
        attempted_at=row.attempted_at,
        study_id=row.study_id,
        actor_user_id=row.actor_user_id,
        actor_role=row.actor_role,
        command_kind=row.command_kind,
        refusal=row.refusal,
        reasons=tuple(json.loads(row.reasons)),
        update_id=row.update_id,
    )
