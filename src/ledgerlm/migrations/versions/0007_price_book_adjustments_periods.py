"""Issue 19: the price book, spend adjustments and closed periods; ``spend_logs.price_id``.

* ``price_book``: effective-dated price entries (catalog / custom / provider) with provenance;
* ``spend_adjustments``: append-only corrections of spend rows (re-pricing, back-fill);
* ``ledger_periods``: closed months with their frozen report;
* ``spend_logs.price_id``: the price book entry a row was priced with (nullable: older rows).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ledgerlm.store.coltypes import Money, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# frozen here so that later changes to ledgerlm.store never change this revision
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _json(name: str, default: str) -> sa.Column[object]:
    return sa.Column(name, JSONType, nullable=False, server_default=sa.text(f"'{default}'"))


def _price_book() -> None:
    op.create_table(
        "price_book",
        sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("price_id", sa.String(32), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("effective_from", UTCDateTime, nullable=False),
        sa.Column("effective_to", UTCDateTime, nullable=True),
        sa.Column("model_ref", sa.String(255), nullable=True),
        sa.Column("data_version", sa.String(128), nullable=True),
        _json("prices", "{}"),
        sa.Column("note", sa.String(255), nullable=True),
        sa.Column("recorded_at", UTCDateTime, nullable=False, server_default=sa.func.current_timestamp()),
        sa.PrimaryKeyConstraint("entry_id", name="pk_price_book"),
    )
    op.create_index("ix_price_book_price_id", "price_book", ["price_id"])
    op.create_index("ix_price_book_model_effective_from", "price_book", ["model", "effective_from"])


def _adjustments() -> None:
    op.create_table(
        "spend_adjustments",
        sa.Column("adjustment_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("charge_time", UTCDateTime, nullable=False),
        sa.Column("original_time", UTCDateTime, nullable=False),
        sa.Column("corrects_period", sa.String(7), nullable=True),
        sa.Column("booked_at", UTCDateTime, nullable=False),
        sa.Column("old_price_id", sa.String(32), nullable=True),
        sa.Column("new_price_id", sa.String(32), nullable=False),
        sa.Column("old_spend", Money, nullable=True),
        sa.Column("new_spend", Money, nullable=False),
        sa.Column("delta", Money, nullable=False),
        _json("breakdown", "{}"),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("api_key", sa.String(64), nullable=True),
        sa.Column("team_id", sa.String(255), nullable=True),
        sa.Column("user", sa.String(255), nullable=True),
        sa.Column("organization_id", sa.String(255), nullable=True),
        sa.Column("end_user", sa.String(255), nullable=True),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("model_group", sa.String(255), nullable=True),
        sa.Column("custom_llm_provider", sa.String(64), nullable=True),
        _json("request_tags", "[]"),
        sa.PrimaryKeyConstraint("adjustment_id", name="pk_spend_adjustments"),
        sa.UniqueConstraint("request_id", "seq", name="uq_spend_adjustments_request_id_seq"),
    )
    for column in ("charge_time", "period", "run_id"):
        op.create_index(f"ix_spend_adjustments_{column}", "spend_adjustments", [column])


def upgrade() -> None:
    op.add_column("spend_logs", sa.Column("price_id", sa.String(32), nullable=True))
    _price_book()
    _adjustments()
    op.create_table(
        "ledger_periods",
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=False),
        sa.Column("closed_by", sa.String(255), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("period", name="pk_ledger_periods"),
    )


def downgrade() -> None:
    op.drop_table("ledger_periods")
    op.drop_table("spend_adjustments")
    op.drop_table("price_book")
    with op.batch_alter_table("spend_logs") as batch:
        batch.drop_column("price_id")
