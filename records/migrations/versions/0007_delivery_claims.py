"""Delivery claims: a notify attempt claims each delivery (with a lease) before it sends, so two attempts never both
send it.

Revision ID: 0007_delivery_claims
Revises: 0006_signing_pins
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_delivery_claims"
down_revision: str | Sequence[str] | None = "0006_signing_pins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_claims",
        sa.Column("notification_key", sa.String(200), primary_key=True),
        sa.Column("recipient", sa.String(320), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("attempt_id", sa.String(200), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    # Only leases of sends in progress: nothing to keep once no worker runs this version.
    op.drop_table("notification_claims")
