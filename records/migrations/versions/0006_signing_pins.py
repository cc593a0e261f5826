"""Signing PINs: each person's argon2id PIN hash and signing lockout, for electronic signatures (21 CFR Part 11).

Revision ID: 0006_signing_pins
Revises: 0004_cohort_counted_on_read
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_signing_pins"
down_revision: str | Sequence[str] | None = "0005_token_uses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signing_pins",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("pin_hash", sa.Text(), nullable=True),
        sa.Column("pin_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("failed_attempts >= 0", name="ck_signing_pins_failed_attempts"),
    )


def downgrade() -> None:
    # Only hashes and lockouts: people set their PINs again after an upgrade.
    op.drop_table("signing_pins")
