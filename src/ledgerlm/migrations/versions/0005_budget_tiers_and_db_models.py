"""Budget tiers and database-stored models (issue 17, LiteLLM's management API).

* ``budgets``: budget tiers (``/budget/new``; LiteLLM ``LiteLLM_BudgetTable``): USD amounts, a duration,
  rate limits per minute, ``model_max_budget``.
* ``budget_id`` on ``verification_tokens``, ``users`` and ``end_users``; ``tpm_limit``/``rpm_limit`` on
  ``end_users`` (per-end-user rate limits).
* ``proxy_models``: models added with ``/model/new`` when ``store_model_in_db`` is on (credentials only as
  ``os.environ/NAME`` references).

Revision ID: 0005
Revises: 0007
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ledgerlm.store.coltypes import Money, UTCDateTime

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _json(name: str, default: str) -> sa.Column[Any]:
    return sa.Column(name, JSON_TYPE, server_default=sa.text(f"'{default}'"), nullable=False)


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column(
            name, UTCDateTime(timezone=True), server_default=sa.func.current_timestamp(), nullable=False
        )
        for name in ("created_at", "updated_at")
    ]


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("budget_id", sa.String(255), nullable=False),
        sa.Column("max_budget", Money(), nullable=True),
        sa.Column("soft_budget", Money(), nullable=True),
        sa.Column("budget_duration", sa.String(32), nullable=True),
        sa.Column("budget_reset_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("tpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("rpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("max_parallel_requests", sa.Integer(), nullable=True),
        _json("model_max_budget", "{}"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("budget_id", name="pk_budgets"),
    )
    op.create_table(
        "proxy_models",
        sa.Column("model_id", sa.String(255), nullable=False),
        sa.Column("model_name", sa.String(255), nullable=False),
        _json("litellm_params", "{}"),
        _json("model_info", "{}"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("model_id", name="pk_proxy_models"),
    )
    op.create_index("ix_proxy_models_model_name", "proxy_models", ["model_name"])
    for table in ("verification_tokens", "users", "end_users"):
        op.add_column(table, sa.Column("budget_id", sa.String(255), nullable=True))
    op.add_column("end_users", sa.Column("tpm_limit", sa.BigInteger(), nullable=True))
    op.add_column("end_users", sa.Column("rpm_limit", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("end_users") as batch:
        batch.drop_column("rpm_limit")
        batch.drop_column("tpm_limit")
        batch.drop_column("budget_id")
    for table in ("verification_tokens", "users"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("budget_id")
    op.drop_index("ix_proxy_models_model_name", table_name="proxy_models")
    op.drop_table("proxy_models")
    op.drop_table("budgets")
