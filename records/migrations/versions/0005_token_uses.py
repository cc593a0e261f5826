"""API tokens in the record: when each was last used (`token_uses`), and every token issued or revoked, with the
operating-system user who did it (`token_changes`, append-only).

Revision ID: 0005_token_uses
Revises: 0004_cohort_counted_on_read
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_token_uses"
down_revision: str | Sequence[str] | None = "0004_cohort_counted_on_read"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = "token changes are append-only"

_POSTGRESQL_GUARDS = [
    f"""
    CREATE FUNCTION token_changes_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_APPEND_ONLY}: % on token_changes is refused', TG_OP;
    END
    $$
    """,
    """
    CREATE TRIGGER token_changes_append_only BEFORE UPDATE OR DELETE ON token_changes
    FOR EACH ROW EXECUTE FUNCTION token_changes_refuse_change()
    """,
    """
    CREATE TRIGGER token_changes_no_truncate BEFORE TRUNCATE ON token_changes
    FOR EACH STATEMENT EXECUTE FUNCTION token_changes_refuse_change()
    """,
]
_SQLITE_GUARDS = [
    f"""
    CREATE TRIGGER token_changes_no_update BEFORE UPDATE ON token_changes
    BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}: UPDATE on token_changes is refused'); END
    """,
    f"""
    CREATE TRIGGER token_changes_no_delete BEFORE DELETE ON token_changes
    BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}: DELETE on token_changes is refused'); END
    """,
]


def upgrade() -> None:
    op.create_table(
        "token_uses",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "token_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=True),
        sa.Column("sha256_prefix", sa.String(12), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_token_changes_changed_at", "token_changes", ["changed_at"])
    dialect = op.get_bind().dialect.name
    for statement in _POSTGRESQL_GUARDS if dialect == "postgresql" else _SQLITE_GUARDS if dialect == "sqlite" else []:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    kept = bind.execute(sa.text("SELECT COUNT(*) FROM token_changes")).scalar_one()
    if kept:
        raise RuntimeError(f"refusing to drop the token changes: the table holds {kept}, which auditors read")
    op.drop_index("ix_token_changes_changed_at", table_name="token_changes")
    op.drop_table("token_changes")
    op.drop_table("token_uses")
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS token_changes_refuse_change()")
