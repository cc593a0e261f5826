"""The notification delivery ledger: what was sent to whom over which channel, and what failed.

Revision ID: 0002_notification_deliveries
Revises: 0001_trial_record
Create Date: 2026-01-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_notification_deliveries"
down_revision: str | Sequence[str] | None = "0001_trial_record"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("notification_key", sa.String(200), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("study_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("staff_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("permanent_failure", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_key", sa.String(200), nullable=True),
        sa.UniqueConstraint("notification_key", "recipient", "channel", name="uq_notification_deliveries_target"),
        sa.CheckConstraint("status IN ('sent', 'failed')", name="ck_notification_deliveries_status"),
        sa.CheckConstraint("attempts >= 1", name="ck_notification_deliveries_attempts"),
    )
    op.create_index("ix_notification_deliveries_status", "notification_deliveries", ["status", "last_attempt_at"])
    op.create_index("ix_notification_deliveries_study_id", "notification_deliveries", ["study_id"])


def downgrade() -> None:
    bind = op.get_bind()
    kept = bind.execute(sa.text("SELECT COUNT(*) FROM notification_deliveries")).scalar_one()
    if kept:
        raise RuntimeError(
            f"refusing to drop the notification delivery ledger: it holds {kept} deliveries, "
            "which show what staff were told"
        )
    op.drop_index("ix_notification_deliveries_study_id", table_name="notification_deliveries")
    op.drop_index("ix_notification_deliveries_status", table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
