"""API tokens in the trial record: when each token was last used, and every token issued or revoked (by which
operating-system user). Tokens are named by their SHA-256 hash (what the token file keeps), never by themselves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from pydantic import AwareDatetime
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from domain.protocol import FrozenModel
from records.engine import WRITE_TRANSACTION
from records.schema import token_changes, token_uses

# A request does not write to the record each time: a token's last use is kept to the minute.
LAST_USE_RESOLUTION: Final = timedelta(minutes=1)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TokenUseLog:
    """When each token was last used. `used` writes at most once per LAST_USE_RESOLUTION per token (remembered in
    this process, and checked in the database, so several API processes do not each write every request)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_TRANSACTION: True})
        self._clock = clock
        self._written: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def used(self, sha256: str, user_id: str) -> bool:
        """Note that the token with this hash was used now; whether the record was written."""
        now = self._clock()
        with self._lock:
            last = self._written.get(sha256)
            if last is not None and now - last < LAST_USE_RESOLUTION:
                return False
            self._written[sha256] = now
        stale = now - LAST_USE_RESOLUTION
        with self._writer.begin() as connection:
            changed = connection.execute(
                update(token_uses)
                .where(token_uses.c.sha256 == sha256, token_uses.c.last_used_at <= stale)
                .values(last_used_at=now, user_id=user_id)
            ).rowcount
            if changed:
                return True
            present = connection.execute(select(token_uses.c.sha256).where(token_uses.c.sha256 == sha256)).first()
            if present is not None:
                return False  # another process wrote it within the minute
        try:
            with self._writer.begin() as connection:
                connection.execute(insert(token_uses).values(sha256=sha256, user_id=user_id, last_used_at=now))
        except IntegrityError:
            return False  # another process inserted it first
        return True

    def last_uses(self) -> dict[str, datetime]:
        """Each token hash's last use."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(token_uses.c.sha256, token_uses.c.last_used_at)).all()
        return {sha256: used_at for sha256, used_at in rows}  # noqa: C416 (rows are Row objects)


class TokenChange(FrozenModel):
    """One token issued or revoked: when, by which operating-system user, for whom."""

    changed_at: AwareDatetime
    operator: str
    action: str  # issued | revoked | pin_reset (a signing PIN reset by an administrator)
    user_id: str
    role: str | None = None
    sha256_prefix: str | None = None
    expires_at: AwareDatetime | None = None


class TokenChangeLog:
    """Every token issued or revoked, append-only (the database refuses an update or a delete)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_TRANSACTION: True})
        self._clock = clock

    def record(
        self,
        *,
        operator: str,
        action: str,
        user_id: str,
        role: str | None = None,
        sha256_prefix: str | None = None,
        expires_at: datetime | None = None,
    ) -> TokenChange:
        change = TokenChange(
            changed_at=self._clock(),
            operator=operator[:64],
            action=action,
            user_id=user_id,
            role=role,
            sha256_prefix=sha256_prefix,
            expires_at=expires_at,
        )
        with self._writer.begin() as connection:
            connection.execute(insert(token_changes).values(**change.model_dump()))
        return change

    def changes(self) -> tuple[TokenChange, ...]:
        with self._engine.connect() as connection:
            rows = connection.execute(select(token_changes).order_by(token_changes.c.id)).mappings().all()
        return tuple(TokenChange.model_validate({k: v for k, v in row.items() if k != "id"}) for row in rows)
