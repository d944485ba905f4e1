"""Dashboard (issue 21): ``users.password_hash`` (username/password login of ``/login``; a salted
scrypt hash, never the password) and ``daily_provider_spend``, the per UTC day x provider x model
rollup kept by the spend writer beside the other daily tables (the overview's provider dimension).

Revision ID: 0011
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledgerlm.store.coltypes import Money

revision = "0011"
down_revision = "0005"
branch_labels = None
depends_on = None

_TOKENS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "reasoning_tokens",
)
_COUNTS = ("api_requests", "successful_requests", "failed_requests", "unpriced_requests", *_TOKENS)


def upgrade() -> None:
    op.add_column("users", sa.Column("password_hash", sa.String(255), nullable=True))
    op.create_table(
        "daily_provider_spend",
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("custom_llm_provider", sa.String(255), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("spend", Money, nullable=False, server_default="0"),
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in _COUNTS),
        sa.PrimaryKeyConstraint("date", "custom_llm_provider", "model", name=op.f("pk_daily_provider_spend")),
    )


def downgrade() -> None:
    op.drop_table("daily_provider_spend")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
