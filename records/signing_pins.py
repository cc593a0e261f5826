"""Signing PINs in the trial record's database: each person's PIN hash (argon2id, made by security/signing_pins.py;
never the PIN) and their signing lockout. `reset` is the administrator's way back for someone who forgot theirs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, Field
from sqlalchemy import select

from domain.protocol import FrozenModel
from domain.record_limits import ActorUserId
from records.engine import WRITE_TRANSACTION
from records.schema import signing_pins

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

_table = signing_pins


class PinRecord(FrozenModel):
    """One person's signing credential and lockout, as stored."""

    user_id: ActorUserId
    pin_hash: str | None  # None: no PIN (reset by an administrator)
    pin_set_at: AwareDatetime | None
    failed_attempts: int = Field(ge=0)  # wrong PINs in a row since the last right one or the last lock
    locked_until: AwareDatetime | None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


class SigningPinStore:
    """Thread-safe (one engine, a connection per call); each change is one write transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_TRANSACTION: True})

    def find(self, user_id: str) -> PinRecord | None:
        with self._engine.connect() as connection:
            return _read(connection, user_id)

    def set_pin(self, user_id: str, pin_hash: str, now: datetime) -> None:
        """Store a new PIN hash for `user_id`; the count of wrong PINs starts again (a lock in force stays)."""
        with self._writer.begin() as connection:
            values = {"pin_hash": pin_hash, "pin_set_at": now, "failed_attempts": 0}
            if _read(connection, user_id, for_update=True) is None:
                connection.execute(_table.insert().values(user_id=user_id, locked_until=None, **values))
            else:
                connection.execute(_table.update().where(_table.c.user_id == user_id).values(**values))

    def record_failure(self, user_id: str, now: datetime, max_failed: int, lockout: timedelta) -> PinRecord:
        """Count one wrong PIN; the `max_failed`-th in a row locks signing until `now + lockout`. Returns the new
        state (`locked_until` set when this failure locked it)."""
        with self._writer.begin() as connection:
            record = _read(connection, user_id, for_update=True)
            if record is None:
                raise LookupError(f"{user_id} has no signing PIN")
            failures = record.failed_attempts + 1
            changes: dict[str, Any] = {"failed_attempts": failures}
            if failures >= max_failed:
                changes = {"failed_attempts": 0, "locked_until": now + lockout}
            connection.execute(_table.update().where(_table.c.user_id == user_id).values(**changes))
            return record.model_copy(update=changes)

    def record_success(self, user_id: str) -> None:
        """A right PIN: the count of wrong ones starts again."""
        with self._writer.begin() as connection:
            connection.execute(_table.update().where(_table.c.user_id == user_id).values(failed_attempts=0))

    def reset(self, user_id: str) -> bool:
        """The administrator's reset: the PIN is removed and any lock lifted; the user sets a new PIN without the
        old one. False when `user_id` never had a PIN."""
        with self._writer.begin() as connection:
            done = connection.execute(
                _table.update()
                .where(_table.c.user_id == user_id)
                .values(pin_hash=None, pin_set_at=None, failed_attempts=0, locked_until=None)
            )
            return done.rowcount > 0


def _read(connection: Connection, user_id: str, for_update: bool = False) -> PinRecord | None:
    query = select(_table).where(_table.c.user_id == user_id)
    row = connection.execute(query.with_for_update() if for_update else query).first()
    return PinRecord.model_validate(dict(row._mapping)) if row is not None else None


def reset_signing_pin(engine: Engine, user_id: str) -> bool:
    """For `trial admin`: remove `user_id`'s signing PIN and lift any lock (see SigningPinStore.reset)."""
    return SigningPinStore(engine).reset(user_id)
