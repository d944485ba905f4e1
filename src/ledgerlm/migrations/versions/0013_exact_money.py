"""Issue 14: money stored exactly on PostgreSQL (unconstrained ``NUMERIC`` instead of ``NUMERIC(24, 10)``).

A call's cost can carry 18 or more decimal places (genai-prices per-token prices times token counts);
``NUMERIC(24, 10)`` rounded it to 1e-10 USD while the response header was exact. Every money column that
stores or accumulates spend (spend logs, daily rollups, key / team / user / end-user / organization / tag
totals and budgets, budget tiers, spend adjustments) becomes ``NUMERIC`` (any scale; existing values
unchanged).
SQLite keeps its 64-bit integer of 1e-10 USD units (no exact wider type there).

Revision ID: 0013
Revises: 0011
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

# frozen here so that later changes to ledgerlm.store never change this revision
_BUDGETED = ("spend", "max_budget", "soft_budget")
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "spend_logs": ("spend",),
    "daily_end_user_spend": ("spend",),
    "daily_key_spend": ("spend",),
    "daily_model_spend": ("spend",),
    "daily_provider_spend": ("spend",),  # migration 0011 (dashboard)
    "daily_tag_spend": ("spend",),
    "daily_team_spend": ("spend",),
    "daily_user_spend": ("spend",),
    "end_users": _BUDGETED,
    "organizations": _BUDGETED,
    "tags": _BUDGETED,
    "teams": _BUDGETED,
    "users": _BUDGETED,
    "verification_tokens": _BUDGETED,
    "spend_adjustments": ("old_spend", "new_spend", "delta"),
    "budgets": ("max_budget", "soft_budget"),
}


def _alter(to: sa.Numeric[Decimal], was: sa.Numeric[Decimal]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in MONEY_COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=to, existing_type=was)


def upgrade() -> None:
    _alter(sa.Numeric(asdecimal=True), sa.Numeric(24, 10, asdecimal=True))


def downgrade() -> None:
    _alter(sa.Numeric(24, 10, asdecimal=True), sa.Numeric(asdecimal=True))  # rounds to 1e-10 USD
