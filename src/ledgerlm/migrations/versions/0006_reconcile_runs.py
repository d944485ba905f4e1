"""``reconcile_runs``: one row per reconciliation of the ledger against a provider's bill (issue 18):
provider, inclusive UTC days, totals and capture rate as exact decimal text, status, the explained rows
(JSON text with exact numbers), created_at.

Revision ID: 0006
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledgerlm.store.coltypes import UTCDateTime

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconcile_runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("from_date", sa.Date, nullable=False),
        sa.Column("to_date", sa.Date, nullable=False),
        sa.Column("ledger_usd", sa.String(64), nullable=False),
        sa.Column("provider_usd", sa.String(64), nullable=False),
        sa.Column("capture_rate", sa.String(64), nullable=True),
        sa.Column("tolerance", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows", sa.Text, nullable=False),
        sa.Column(
            "created_at",
            UTCDateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reconcile_runs"),
    )
    op.create_index("ix_reconcile_runs_provider_created_at", "reconcile_runs", ["provider", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_reconcile_runs_provider_created_at", table_name="reconcile_runs")
    op.drop_table("reconcile_runs")
