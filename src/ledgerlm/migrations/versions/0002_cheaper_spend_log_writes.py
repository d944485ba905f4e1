"""Cheaper spend log writes: ``json`` (not ``jsonb``) for metadata, messages and response; a partial
index on failures instead of ``(status, startTime)``.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BLOBS = ("metadata", "messages", "response")
FAILED = sa.text("status = 'failure'")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite stores JSON as text either way
        for name in BLOBS:
            op.alter_column(
                "spend_logs",
                name,
                type_=sa.JSON(),
                existing_type=postgresql.JSONB(),
                postgresql_using=f"{name}::json",
            )
    op.drop_index("ix_spend_logs_status_startTime", table_name="spend_logs")
    op.create_index(
        "ix_spend_logs_failed_startTime",
        "spend_logs",
        ["startTime"],
        postgresql_where=FAILED,
        sqlite_where=FAILED,
    )


def downgrade() -> None:
    op.drop_index("ix_spend_logs_failed_startTime", table_name="spend_logs")
    op.create_index("ix_spend_logs_status_startTime", "spend_logs", ["status", "startTime"])
    if op.get_bind().dialect.name == "postgresql":
        for name in BLOBS:
            op.alter_column(
                "spend_logs",
                name,
                type_=postgresql.JSONB(),
                existing_type=sa.JSON(),
                postgresql_using=f"{name}::jsonb",
            )
