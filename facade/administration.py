"""The trial record as the server's administrator reaches it (`trial admin ...`): directly, never creating an empty
record where there is none; its migrations, its verification, and the API tokens' uses and changes kept in it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from config.settings import Settings
from config.temporal_connection import connect
from records import EventStore, VerificationReport
from records.engine import create_record_engine
from records.migrate import current_revision, head_revision, upgrade_engine_to_head
from records.signing_pins import reset_signing_pin
from records.token_uses import TokenChangeLog, TokenUseLog
from records.witnessed import verify_with_witnesses
from security import configured_data_converter
from security.configured_keys import checkpoint_log

# How long `trial admin verify` waits for Temporal before checking the record against the checkpoints alone.
TEMPORAL_CONNECT_TIMEOUT_SECONDS = 10


class RecordUnavailable(Exception):
    """The record cannot be used as asked; the message says why and what to do, without the URL's password."""


def shown_url(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


def _reason(error: SQLAlchemyError) -> str:
    # The driver's first line says what went wrong (refused, unknown host, bad password) without the URL.
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0]


@dataclass(frozen=True)
class AdminRecord:
    """An existing trial record: its verification, the API tokens' last uses and changes, the signing PINs' resets."""

    engine: Engine

    def verify(self, settings: Settings | None = None) -> VerificationReport:
        """The chain alone; with the server's `settings`, also against the journeys' workflows (when Temporal
        answers) and the signed checkpoints, and every summary folded again."""
        store = EventStore(engine=self.engine)
        if settings is None:
            return store.verify()
        return asyncio.run(_witnessed(store, settings))

    def token_last_uses(self) -> dict[str, datetime]:
        return TokenUseLog(self.engine).last_uses()

    def reset_signing_pin(self, user_id: str) -> bool:
        """Remove `user_id`'s signing PIN and lift any lock; False when they never had one."""
        return reset_signing_pin(self.engine, user_id)

    def note_token_change(
        self,
        *,
        operator: str,
        action: str,
        user_id: str,
        role: str | None = None,
        sha256_prefix: str | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        TokenChangeLog(self.engine).record(
            operator=operator,
            action=action,
            user_id=user_id,
            role=role,
            sha256_prefix=sha256_prefix,
            expires_at=expires_at,
        )


async def _witnessed(store: EventStore, settings: Settings) -> VerificationReport:
    try:
        client = await asyncio.wait_for(
            connect(settings, configured_data_converter(settings)), TEMPORAL_CONNECT_TIMEOUT_SECONDS
        )
    except Exception:  # unreachable or refused: the report notes that the workflows were not asked
        client = None
    return await verify_with_witnesses(store, client, checkpoint_log(settings).witness())


@contextmanager
def existing_record(database_url: str, *, current: bool = False, where: str = "") -> Iterator[AdminRecord]:
    """The record at `database_url`, which must exist (a SQLite file is never created here) and have been migrated;
    `current`: at the schema this code writes. RecordUnavailable otherwise. `where`: how to point at another one."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise RecordUnavailable(f"there is no trial record at {url.database}{where}")
    engine = create_record_engine(url)
    try:
        try:
            revision = current_revision(engine)
        except SQLAlchemyError as error:
            raise RecordUnavailable(
                f"cannot open the trial record at {shown_url(database_url)}: {_reason(error)}"
            ) from None
        if revision is None:
            raise RecordUnavailable(
                f"{shown_url(database_url)} holds no trial record (never migrated): `trial admin migrate` makes one"
            )
        if current and revision != head_revision():
            raise RecordUnavailable(
                f"the trial record at {shown_url(database_url)} is not at the newest schema: `trial admin migrate`"
            )
        yield AdminRecord(engine)
    finally:
        engine.dispose()


def migrate_record(database_url: str) -> str:
    """Bring the record to the newest schema (creating it if need be); the revision it is at."""
    engine = create_record_engine(database_url)
    try:
        upgrade_engine_to_head(engine)
        revision = current_revision(engine)
    except SQLAlchemyError as error:
        raise RecordUnavailable(
            f"cannot migrate the trial record at {shown_url(database_url)}: {_reason(error)}"
        ) from None
    finally:
        engine.dispose()
    assert revision is not None
    return revision
