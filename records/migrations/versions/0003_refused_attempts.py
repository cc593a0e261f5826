"""Refused attempts: every write the trial client refused, kept for supervisors to audit.

Revision ID: 0003_refused_attempts
Revises: 0002_notification_deliveries
Create Date: 2026-01-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_refused_attempts"
down_revision: str | Sequence[str] | None = "0002_notification_deliveries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = "refused attempts are append-only"

# As for the trial events: the database itself refuses to rewrite what was attempted.
_POSTGRESQL_GUARDS = [
    f"""
    CREATE FUNCTION refused_attempts_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_APPEND_ONLY}: % on refused_attempts is refused', TG_OP;
    END
    $$
    """,
    """
    CREATE TRIGGER refused_attempts_append_only BEFORE UPDATE OR DELETE ON refused_attempts
    FOR EACH ROW EXECUTE FUNCTION refused_attempts_refuse_change()
    """,
    """
    CREATE TRIGGER refused_attempts_no_truncate BEFORE TRUNCATE ON refused_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION refused_attempts_refuse_change()
    """,
]
_SQLITE_GUARDS = [
    f"""
    CREATE TRIGGER refused_attempts_no_update BEFORE UPDATE ON refused_attempts
    BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}: UPDATE on refused_attempts is refused'); END
    """,
    f"""
    CREATE TRIGGER refused_attempts_no_delete BEFORE DELETE ON refused_attempts
    BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}: DELETE on refused_attempts is refused'); END
    """,
]


def upgrade() -> None:
    op.create_table(
        "refused_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("study_id", sa.String(32), nullable=False),
        sa.Column("actor_user_id", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(64), nullable=False),
        sa.Column("command_kind", sa.String(64), nullable=False),
        sa.Column("refusal", sa.String(32), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("update_id", sa.String(128), nullable=True),
    )
    op.create_index("ix_refused_attempts_study_id", "refused_attempts", ["study_id", "attempted_at"])
    op.create_index("ix_refused_attempts_attempted_at", "refused_attempts", ["attempted_at"])
    dialect = op.get_bind().dialect.name
    for statement in _POSTGRESQL_GUARDS if dialect == "postgresql" else _SQLITE_GUARDS if dialect == "sqlite" else []:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    kept = bind.execute(sa.text("SELECT COUNT(*) FROM refused_attempts")).scalar_one()
    if kept:
        raise RuntimeError(f"refusing to drop the refused attempts: the table holds {kept}, which supervisors audit")
    op.drop_index("ix_refused_attempts_attempted_at", table_name="refused_attempts")
    op.drop_index("ix_refused_attempts_study_id", table_name="refused_attempts")
    op.drop_table("refused_attempts")  # its triggers go with it
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS refused_attempts_refuse_change()")
