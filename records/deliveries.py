"""The notification delivery ledger: one row per (notification key, recipient, channel), so a retried notify
activity skips what was already sent, and supervisors can list what failed; and the claims (with a lease) that an
attempt takes on a delivery before sending it, so two attempts never both send it.

Outside the hash chain (table `notification_deliveries`): an operational log that changes, not a clinical fact."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from domain.protocol import FrozenModel
from records.engine import WRITE_TRANSACTION
from records.schema import notification_claims, notification_deliveries

if TYPE_CHECKING:
    from typing import TypeAlias

    from sqlalchemy import Row

    AnyRow: TypeAlias = Row[*tuple[Any, ...]]

_ERROR_MAX_LENGTH = 500
_table = notification_deliveries


class DeliveryStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # the last attempt failed; see `permanent_failure` and `escalated_at`


class DeliveryTarget(FrozenModel):
    """One recipient of one notification over one channel: the ledger's key plus what identifies it to people."""

    notification_key: str
    study_id: str
    role: str
    staff_id: str
    channel: str  # "email" or "webhook"
    recipient: str  # an e-mail address, or a webhook as scheme://host#digest (its URL may be a secret)


class DeliveryRecord(FrozenModel):
    """A row of the ledger, as supervisors see it."""

    notification_key: str
    study_id: str
    role: str
    staff_id: str
    channel: str
    recipient: str
    status: DeliveryStatus
    permanent_failure: bool  # the channel refused it (e.g. HTTP 4xx, SMTP 5xx): retrying cannot help
    attempts: int
    last_error: str | None
    first_attempt_at: AwareDatetime
    last_attempt_at: AwareDatetime
    sent_at: AwareDatetime | None
    escalated_at: AwareDatetime | None
    escalation_key: str | None

    @property
    def target(self) -> DeliveryTarget:
        return DeliveryTarget(
            notification_key=self.notification_key,
            study_id=self.study_id,
            role=self.role,
            staff_id=self.staff_id,
            channel=self.channel,
            recipient=self.recipient,
        )


class DeliveryClaim(FrozenModel):
    """Another attempt is sending this delivery: which one, and until when its claim holds."""

    attempt_id: str
    claimed_until: AwareDatetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DeliveryLedger:
    """Delivery outcomes in the trial record's database. Thread-safe (one engine, a connection per call)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_TRANSACTION: True})
        self._clock = clock

    # ------------------------------------------------------------------ writing

    def record_sent(self, target: DeliveryTarget) -> DeliveryRecord:
        """The channel accepted the message."""
        now = self._clock()
        return self._record(target, {"status": DeliveryStatus.SENT.value, "permanent_failure": False, "sent_at": now})

    def record_failure(self, target: DeliveryTarget, error: str, *, permanent: bool) -> DeliveryRecord:
        """The attempt failed; `error` says why in words without patient data (a status code, an exception)."""
        values = {
            "status": DeliveryStatus.FAILED.value,
            "permanent_failure": permanent,
            "last_error": error[:_ERROR_MAX_LENGTH],
        }
        return self._record(target, values)

    def mark_escalated(self, notification_key: str, escalation_key: str) -> int:
        """Mark the notification's failed deliveries as escalated (once); returns how many were marked."""
        with self._writer.begin() as connection:
            result = connection.execute(
                update(_table)
                .where(
                    _table.c.notification_key == notification_key,
                    _table.c.status == DeliveryStatus.FAILED.value,
                    _table.c.escalated_at.is_(None),
                )
                .values(escalated_at=self._clock(), escalation_key=escalation_key)
            )
            return int(result.rowcount)

    def _record(self, target: DeliveryTarget, values: dict[str, Any]) -> DeliveryRecord:
        now = self._clock()
        where = (
            _table.c.notification_key == target.notification_key,
            _table.c.recipient == target.recipient,
            _table.c.channel == target.channel,
        )
        for _attempt in range(2):  # a concurrent first insert of the same target: update its row instead
            try:
                with self._writer.begin() as connection:
                    existing = connection.execute(select(_table.c.attempts).where(*where)).first()
                    if existing is None:
                        connection.execute(
                            insert(_table).values(
                                **target.model_dump(),
                                attempts=1,
                                first_attempt_at=now,
                                last_attempt_at=now,
                                **{"last_error": None, "sent_at": None, **values},
                            )
                        )
                    else:
                        connection.execute(
                            update(_table)
                            .where(*where)
                            .values(attempts=existing.attempts + 1, last_attempt_at=now, **values)
                        )
                    return self._one(connection, target)
            except IntegrityError:
                continue
        raise RuntimeError(f"could not record the delivery of {target.notification_key} to {target.recipient}")

    # ------------------------------------------------------------------ claiming

    def claim(self, target: DeliveryTarget, attempt_id: str, lease: timedelta) -> DeliveryClaim | None:
        """Claim the delivery for `attempt_id` until now + `lease`, before sending it: None when claimed (or claimed
        again by the same attempt); else the live claim of another attempt, which this one must wait out."""
        claims = notification_claims
        where = (
            claims.c.notification_key == target.notification_key,
            claims.c.recipient == target.recipient,
            claims.c.channel == target.channel,
        )
        for _attempt in range(2):  # a concurrent first claim of the same target: read its row instead
            now = self._clock()
            try:
                with self._writer.begin() as connection:
                    # Locked (PostgreSQL; SQLite's write transaction serializes anyway) so one claimer decides.
                    held = connection.execute(select(claims).where(*where).with_for_update()).first()
                    values = {"attempt_id": attempt_id, "claimed_until": now + lease}
                    if held is None:
                        connection.execute(
                            insert(claims).values(
                                notification_key=target.notification_key,
                                recipient=target.recipient,
                                channel=target.channel,
                                **values,
                            )
                        )
                        return None
                    if held.attempt_id != attempt_id and held.claimed_until > now:
                        return DeliveryClaim(attempt_id=held.attempt_id, claimed_until=held.claimed_until)
                    connection.execute(update(claims).where(*where).values(**values))  # free, lapsed, or ours
                    return None
            except IntegrityError:
                continue
        raise RuntimeError(f"could not claim the delivery of {target.notification_key} to {target.recipient}")

    def release(self, target: DeliveryTarget, attempt_id: str) -> None:
        """The attempt is done with the delivery (sent, or failed): the next attempt need not wait for the lease."""
        claims = notification_claims
        with self._writer.begin() as connection:
            connection.execute(
                delete(claims).where(
                    claims.c.notification_key == target.notification_key,
                    claims.c.recipient == target.recipient,
                    claims.c.channel == target.channel,
                    claims.c.attempt_id == attempt_id,
                )
            )

    # ------------------------------------------------------------------ reading

    def find(self, target: DeliveryTarget) -> DeliveryRecord | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(_table).where(
                    _table.c.notification_key == target.notification_key,
                    _table.c.recipient == target.recipient,
                    _table.c.channel == target.channel,
                )
            ).first()
        return None if row is None else _delivery_record(row)

    def for_notification(self, notification_key: str) -> list[DeliveryRecord]:
        """Every delivery of one notification, in the order they were first attempted."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(_table).where(_table.c.notification_key == notification_key).order_by(_table.c.id)
            )
            return [_delivery_record(row) for row in rows]

    def for_study(self, study_id: str) -> list[DeliveryRecord]:
        """Every delivery about one patient, in the order they were first attempted."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(_table).where(_table.c.study_id == study_id).order_by(_table.c.id))
            return [_delivery_record(row) for row in rows]

    def failed(
        self,
        *,
        study_id: str | None = None,
        since: datetime | None = None,
        escalated: bool | None = None,
        limit: int | None = None,
    ) -> list[DeliveryRecord]:
        """Deliveries whose last attempt failed, most recent first: of `study_id`, last attempted at or after `since`,
        escalated (True) or still being retried (False), at most `limit`; each None: no such filter."""
        query = select(_table).where(_table.c.status == DeliveryStatus.FAILED.value)
        if study_id is not None:
            query = query.where(_table.c.study_id == study_id)
        if since is not None:
            query = query.where(_table.c.last_attempt_at >= since)
        if escalated is not None:
            query = query.where(_table.c.escalated_at.is_not(None) if escalated else _table.c.escalated_at.is_(None))
        query = query.order_by(_table.c.last_attempt_at.desc(), _table.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as connection:
            return [_delivery_record(row) for row in connection.execute(query)]

    def _one(self, connection: Connection, target: DeliveryTarget) -> DeliveryRecord:
        row = connection.execute(
            select(_table).where(
                _table.c.notification_key == target.notification_key,
                _table.c.recipient == target.recipient,
                _table.c.channel == target.channel,
            )
        ).one()
        return _delivery_record(row)


def _delivery_record(row: AnyRow) -> DeliveryRecord:
    return DeliveryRecord(
        notification_key=row.notification_key,
        study_id=row.study_id,
        role=row.role,
        staff_id=row.staff_id,
        channel=row.channel,
        recipient=row.recipient,
        status=DeliveryStatus(row.status),
        permanent_failure=bool(row.permanent_failure),
        attempts=row.attempts,
        last_error=row.last_error,
        first_attempt_at=row.first_attempt_at,
        last_attempt_at=row.last_attempt_at,
        sent_at=row.sent_at,
        escalated_at=row.escalated_at,
        escalation_key=row.escalation_key,
    )
