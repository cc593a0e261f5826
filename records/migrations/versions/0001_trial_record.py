"""The trial record: append-only hash-chained events, and the supervisors' projections.

Revision ID: 0001_trial_record
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_trial_record"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = "the trial record is append-only"

# The database itself refuses to change or remove a recorded event; the hash chain catches whoever
# disables these guards first.
_POSTGRESQL_GUARDS = [
    f"""
    CREATE FUNCTION trial_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_APPEND_ONLY}: % on trial_events is refused', TG_OP;
    END
    $$
    """,
    """
    CREATE TRIGGER trial_events_append_only BEFORE UPDATE OR DELETE ON trial_events
    FOR EACH ROW EXECUTE FUNCTION trial_events_refuse_change()
    """,
    """
    CREATE TRIGGER trial_events_no_truncate BEFORE TRUNCATE ON trial_events
    FOR EACH STATEMENT EXECUTE FUNCTION trial_events_refuse_change()
    """,
]
_SQLITE_GUARDS = [
    f"""
    CREATE TRIGGER trial_events_no_update BEFORE UPDATE ON trial_events
    BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}: UPDATE on trial_events is refused'); END
    """,
    f"""
    CREATE TRIGGER trial_events_no_delete BEFORE DELETE ON trial_events
    BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}: DELETE on trial_events is refused'); END
    """,
]


def upgrade() -> None:
    op.create_table(
        "trial_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.String(32), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(64), nullable=False),
        sa.Column("protocol_version", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("study_id", "sequence", name="uq_trial_events_study_sequence"),
        sa.CheckConstraint("sequence >= 1", name="ck_trial_events_sequence_positive"),
    )
    op.create_table(
        "patient_summaries",
        sa.Column("study_id", sa.String(32), primary_key=True),
        sa.Column("phase", sa.String(64), nullable=True),
        sa.Column("updated_through_sequence", sa.Integer(), nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_index("ix_patient_summaries_phase", "patient_summaries", ["phase"])
    op.create_index("ix_patient_summaries_updated_through_sequence", "patient_summaries", ["updated_through_sequence"])
    op.create_table(
        "cohort_summary",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("patient_count", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_cohort_summary_single_row"),
    )
    dialect = op.get_bind().dialect.name
    for statement in _POSTGRESQL_GUARDS if dialect == "postgresql" else _SQLITE_GUARDS if dialect == "sqlite" else []:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    recorded = bind.execute(sa.text("SELECT COUNT(*) FROM trial_events")).scalar_one()
    if recorded:
        raise RuntimeError(
            f"refusing to drop the trial record: it holds {recorded} events, which must be kept permanently"
        )
    op.drop_table("cohort_summary")
    op.drop_index("ix_patient_summaries_updated_through_sequence", table_name="patient_summaries")
    op.drop_index("ix_patient_summaries_phase", table_name="patient_summaries")
    op.drop_table("patient_summaries")
    op.drop_table("trial_events")
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS trial_events_refuse_change()")
