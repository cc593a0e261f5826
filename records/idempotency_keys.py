"""The HTTP API's Idempotency-Key ledger (draft-ietf-httpapi-idempotency-key-header) in the trial record's database.

One row per (user, key): claimed before the request runs (in_flight), then holding the answer it got (done). Kept in
the record's database, not in one API process's memory, so every API process (and one restarted after a crash) sees
the same claims, and a claim is taken in the same kind of write transaction as everything else the record keeps.
Rows are deleted KEY_LIFETIME after they were claimed: a resend within a day of the first request is answered again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import ColumnElement, Connection, Engine, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from observability.logging import get_logger
from records.engine import WRITE_TRANSACTION
from records.schema import idempotency_keys as _table

# How long a key's answer is kept: a resend after a lost reply comes within minutes; a day covers a night shift.
KEY_LIFETIME: Final = timedelta(hours=24)
# A claim still in flight after this long belongs to an API process that died mid-request: the next resend takes
# it over (the command's Temporal update id, derived from the same key, still keeps it from being applied twice).
# Longer than any request runs: the CLI waits 60 s for an answer, the trial client resends for 30 s.
IN_FLIGHT_LEASE: Final = timedelta(minutes=5)
# Expired rows are deleted in bulk at most this often per process, in a transaction of its own (a claim never waits
# on, nor deadlocks with, another process's purge); a claim treats its own expired row as absent meanwhile.
PURGE_EVERY: Final = timedelta(minutes=10)

log = get_logger("records.idempotency_keys")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # the caller runs the request, then calls `complete` or `release`
    REPLAY = "replay"  # done before with the same request: answer `status` and `body` again
    DIFFERENT_REQUEST = "different_request"  # the key was used for another request: refuse (422)
    IN_FLIGHT = "in_flight"  # the first request with this key is still running: refuse (409)


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    status: int | None = None
    body: str | None = None


class IdempotencyLedger:
    """Thread-safe (one engine, a connection per call); each claim is one write transaction."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_TRANSACTION: True})
        self._clock = clock
        self._purged_at: datetime | None = None

    def claim(self, user_id: str, key: str, fingerprint: str) -> Claim:
        """Claim `key` of `user_id` for the request whose fingerprint is given, or say why not."""
        self._purge_expired()
        try:
            return self._claim(user_id, key, fingerprint)
        except IntegrityError:
            # Another process inserted the same (user, key) between our read and our insert: read theirs.
            return self._claim(user_id, key, fingerprint)

    def _claim(self, user_id: str, key: str, fingerprint: str) -> Claim:
        now = self._clock()
        with self._writer.begin() as connection:
            row = _read(connection, user_id, key)
            if row is not None and now - row.created_at >= KEY_LIFETIME:
                connection.execute(delete(_table).where(_is(user_id, key)))
                row = None
            if row is None:
                claimed = {"fingerprint": fingerprint, "status": "in_flight", "created_at": now}
                connection.execute(insert(_table).values(user_id=user_id, idempotency_key=key, **claimed))
                return Claim(ClaimOutcome.CLAIMED)
            if row.fingerprint != fingerprint:
                return Claim(ClaimOutcome.DIFFERENT_REQUEST)
            if row.status == "done":
                return Claim(ClaimOutcome.REPLAY, row.response_status, row.response_body)
            if now - row.created_at < IN_FLIGHT_LEASE:
                return Claim(ClaimOutcome.IN_FLIGHT)
            connection.execute(update(_table).where(_is(user_id, key)).values(created_at=now))
            return Claim(ClaimOutcome.CLAIMED)

    def _purge_expired(self) -> None:
        now = self._clock()
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = now
        try:
            with self._writer.begin() as connection:
                connection.execute(delete(_table).where(_table.c.created_at < now - KEY_LIFETIME))
        except SQLAlchemyError as error:
            # Housekeeping only: the claim itself still works, and the next purge takes these rows.
            log.warning("idempotency_keys_not_purged", error_type=type(error).__name__)

    def complete(self, user_id: str, key: str, status: int, body: str) -> None:
        """The claimed request was answered `status` with `body`: a resend gets the same answer."""
        with self._writer.begin() as connection:
            answer = {"status": "done", "response_status": status, "response_body": body}
            connection.execute(update(_table).where(_is(user_id, key)).values(**answer))

    def release(self, user_id: str, key: str) -> None:
        """The claimed request recorded nothing (refused, or failed before it reached the journey): the key is free
        again, so a resend runs it anew."""
        with self._writer.begin() as connection:
            connection.execute(delete(_table).where(_is(user_id, key)).where(_table.c.status == "in_flight"))


def _is(user_id: str, key: str) -> ColumnElement[bool]:
    return and_(_table.c.user_id == user_id, _table.c.idempotency_key == key)


@dataclass(frozen=True)
class _Row:
    fingerprint: str
    status: str
    response_status: int | None
    response_body: str | None
    created_at: datetime


def _read(connection: Connection, user_id: str, key: str) -> _Row | None:
    query = select(
        _table.c.fingerprint, _table.c.status, _table.c.response_status, _table.c.response_body, _table.c.created_at
    ).where(_is(user_id, key))
    row = connection.execute(query.with_for_update()).first()
    return _Row(*row) if row is not None else None
