"""A patient's events exactly as stored, for the audit export: every column the hash covers, the payload as its
stored text (not parsed and re-written), so an auditor recomputing the chain checks what the database holds."""

from __future__ import annotations

from sqlalchemy import Engine, select

from records.event_rows import EVENT_COLUMNS, chain_row
from records.schema import trial_events
from records.verification import ChainRow


def stored_chain(engine: Engine, study_id: str) -> list[ChainRow]:
    """The patient's rows in sequence order (then storage order, so a duplicated sequence shows twice)."""
    query = (
        select(*EVENT_COLUMNS)
        .where(trial_events.c.study_id == study_id)
        .order_by(trial_events.c.sequence, trial_events.c.id)
    )
    with engine.connect() as connection:
        return [chain_row(row) for row in connection.execute(query)]
