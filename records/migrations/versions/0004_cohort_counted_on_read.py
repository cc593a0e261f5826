"""The cohort summary is counted from the patient summaries when asked: its stored copy goes.

Rebuilding it after every append read every patient's summary, which made each append cost the whole cohort.
Nothing is lost: it was a projection, rebuilt from the patient summaries, which stay.

Revision ID: 0004_cohort_counted_on_read
Revises: 0003_refused_attempts
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_cohort_counted_on_read"
down_revision: str | Sequence[str] | None = "0003_refused_attempts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("cohort_summary")


def downgrade() -> None:
    # Empty, as 0001 made it: a projection, filled by the next rebuild of that version.
    op.create_table(
        "cohort_summary",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("patient_count", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_cohort_summary_single_row"),
    )
