"""Issue 21: cheaper rollups for the spend writer: pending deltas folded in bulk, and the ISO-week
rollups built for ENDED weeks only.

* ``rollup_deltas`` (no key, no index; ``store.rollup_deltas``): the PostgreSQL writer appends its
  batch's rollup aggregate there, in the rows' transaction; the fold moves it into the rollup tables.

* ``rollup_watermarks`` (``name`` primary key, ``built_through`` date): row ``weekly`` holds the Monday
  of the last week folded into ``weekly_key_totals``, ``weekly_user_totals`` and
  ``weekly_end_user_totals``. The migration sets it to the Monday of the week before the current UTC
  week, and deletes the weekly rows of later weeks (until now the writer kept the current week too);
  from now on the maintenance loop folds each week from the daily rollups once it has ended, and the
  writer adds to the weekly rows only for the rows of a week already built.
* Downgrade folds the pending deltas, then rebuilds the deleted weeks from the daily rollups (the
  writer of 0017 kept every week).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from ledgerlm.store.coltypes import Money

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# frozen here so that later changes to ledgerlm.store never change this revision
_WEEKLY = {  # weekly table -> (its daily source, entity column)
    "weekly_key_totals": ("daily_key_totals", "api_key"),
    "weekly_user_totals": ("daily_user_totals", "user_id"),
    "weekly_end_user_totals": ("daily_end_user_totals", "end_user"),
}
_DELTA_KEYS = ("api_key", "user", "team_id", "end_user", "model", "custom_llm_provider", "tag")
_COUNTS = (
    "spend",
    "api_requests",
    "successful_requests",
    "failed_requests",
    "unpriced_requests",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "reasoning_tokens",
)


def _day(name: str, value: date) -> sa.BindParameter[date]:
    return sa.bindparam(name, value, type_=sa.Date)


def _create_deltas() -> None:
    op.create_table(
        "rollup_deltas",
        sa.Column("date", sa.Date, nullable=False),
        *(sa.Column(name, sa.String(255), nullable=True) for name in _DELTA_KEYS),
        *(sa.Column(name, Money if name == "spend" else sa.BigInteger, nullable=False, server_default="0")
          for name in _COUNTS),
    )  # fmt: skip


def upgrade() -> None:
    _create_deltas()
    if op.get_bind().dialect.name == "postgresql":
        # a queue: every fold deletes what it takes; vacuum it often so readers scan no dead rows
        op.execute(
            "ALTER TABLE rollup_deltas SET (autovacuum_vacuum_scale_factor = 0, "
            "autovacuum_vacuum_threshold = 10000, autovacuum_vacuum_cost_delay = 0)"
        )
    op.create_table(
        "rollup_watermarks",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("built_through", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rollup_watermarks")),
    )
    today = datetime.now(UTC).date()
    through = today - timedelta(days=today.weekday() + 7)  # the Monday of last week
    for table in _WEEKLY:
        op.execute(sa.text(f"DELETE FROM {table} WHERE date > :through").bindparams(_day("through", through)))
    insert = "INSERT INTO rollup_watermarks (name, built_through) VALUES ('weekly', :through)"
    op.execute(sa.text(insert).bindparams(_day("through", through)))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # the pending deltas into the rollups first (0017 has none)
        from ledgerlm.store.rollup_deltas import FOLD_SQL

        bind.exec_driver_sql(FOLD_SQL)
    week = (
        "date_trunc('week', date)::date"
        if bind.dialect.name == "postgresql"
        else "date(date, 'weekday 0', '-6 days')"
    )
    found = bind.execute(sa.text("SELECT built_through FROM rollup_watermarks WHERE name = 'weekly'"))
    through = found.scalar()
    after = date.fromisoformat(str(through)) + timedelta(days=7) if through else date(1970, 1, 5)
    sums = ", ".join(f"SUM({name})" for name in _COUNTS)
    for table, (daily, entity) in _WEEKLY.items():
        op.execute(sa.text(f"DELETE FROM {table} WHERE date >= :after").bindparams(_day("after", after)))
        rebuild = (
            f"INSERT INTO {table} (date, {entity}, {', '.join(_COUNTS)}) "
            f"SELECT {week}, {entity}, {sums} FROM {daily} WHERE date >= :after GROUP BY {week}, {entity}"
        )
        op.execute(sa.text(rebuild).bindparams(_day("after", after)))
    op.drop_table("rollup_watermarks")
    op.drop_table("rollup_deltas")
