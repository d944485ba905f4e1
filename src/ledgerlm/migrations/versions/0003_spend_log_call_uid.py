"""``spend_logs.call_uid``: the server-unique nonce of each call (uuid4 hex), so that a different call
reusing a client's ``x-request-id`` is still written and charged (``store.ingest``), while a replay of
the same call (same nonce) stays a no-op. Nullable: rows written before this revision have none.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("spend_logs", sa.Column("call_uid", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("spend_logs") as batch:
        batch.drop_column("call_uid")
