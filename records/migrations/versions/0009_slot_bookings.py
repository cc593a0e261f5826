"""Slot bookings: the manufacturing slot calendar, one live booking per collection slot (week, slot number).

Revision ID: 0009_slot_bookings
Revises: 0008_idempotency_keys
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_slot_bookings"
down_revision: str | Sequence[str] | None = "0008_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = sa.text("status != 'cancelled'")


def upgrade() -> None:
    op.create_table(
        "slot_bookings",
        sa.Column("study_id", sa.String(32), primary_key=True),
        sa.Column("collection_number", sa.Integer(), primary_key=True),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("slot_number", sa.Integer(), nullable=False),
        sa.Column("collection_date", sa.Date(), nullable=False),
        sa.Column("expected_release", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("manufacturing_ended", sa.Date(), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('booked', 'released', 'failed', 'cancelled')", name="ck_slot_bookings_status"),
    )
    op.create_index(
        "uq_slot_bookings_collection_slot",
        "slot_bookings",
        ["week", "slot_number"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )


def downgrade() -> None:
    # The bookings are also each patient's `slot_booked` events in the hash chain: the calendar can be rebuilt.
    op.drop_index("uq_slot_bookings_collection_slot", table_name="slot_bookings")
    op.drop_table("slot_bookings")
