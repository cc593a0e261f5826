"""A patient's events exactly as stored, for the audit export: every column the hash covers, the payload as its
stored text (not parsed and re-written), so an auditor recomputing the chain checks what the database holds."""

from __future__ import annotations

from sqlalchemy import Engine, select

from records.schema import trial_events
from records.verification import ChainRow


def stored_chain(engine: Engine, study_id: str) -> list[ChainRow]:
    """The patient's rows in sequence order (then storage order, so a duplicated sequence shows twice)."""
    table = trial_events
    query = (
        select(
            table.c.id,
            table.c.study_id,
            table.c.sequence,
            table.c.event_type,
            table.c.occurred_at,
            table.c.recorded_at,
            table.c.actor_user_id,
            table.c.actor_role,
            table.c.protocol_version,
            table.c.payload,
            table.c.reason,
            table.c.previous_hash,
            table.c.hash,
        )
        .where(table.c.study_id == study_id)
        .order_by(table.c.sequence, table.c.id)
    )
    with engine.connect() as connection:
        return [
            ChainRow(
                row_id=row.id,
                study_id=row.study_id,
                sequence=row.sequence,
                event_type=row.event_type,
                occurred_at=row.occurred_at,
                recorded_at=row.recorded_at,
                actor_user_id=row.actor_user_id,
                actor_role=row.actor_role,
                protocol_version=row.protocol_version,
                payload=row.payload,
                reason=row.reason,
                previous_hash=row.previous_hash,
                hash=row.hash,
            )
            for row in connection.execute(query)
        ]
