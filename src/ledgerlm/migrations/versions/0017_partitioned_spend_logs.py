"""Issue 21 (dashboard at scale): narrow daily rollups, and on PostgreSQL ``spend_logs`` /
``spend_log_tags`` range-partitioned by UTC day.

Every database:

* ``daily_key_totals``, ``daily_team_totals``, ``daily_user_totals``, ``daily_end_user_totals``,
  ``daily_tag_totals``: one row per UTC day x entity (the existing ``daily_*_spend`` tables split each
  entity by model too); back-filled from those tables, then kept by the spend writer.
* ``weekly_key_totals``, ``weekly_user_totals``, ``weekly_end_user_totals``: the same per ISO week
  (``date`` = its Monday), back-filled from the day x entity tables; an index ``(api_key, date)`` on
  ``daily_key_totals`` (a team admin's keys).
* ``daily_end_user_spend`` and ``daily_tag_spend`` (the per-model split of end users and tags: nothing
  reads it, and every rollup costs the writer) are dropped once their day x entity tables are filled;
  a downgrade rebuilds them from the spend rows still kept.
* ``spend_log_ids`` (``request_id`` primary key, ``startTime``): used on PostgreSQL only (see below).

PostgreSQL only:

* ``spend_logs`` and ``spend_log_tags`` become ``PARTITION BY RANGE ("startTime")`` tables with one
  partition per UTC day (``spend_logs_p20261206``: ``[2026-12-06 00:00+00, 2026-12-07 00:00+00)``);
  their primary keys gain the partition key: ``(request_id, "startTime")`` and
  ``(request_id, tag, "startTime")``. A request id stays unique across days through ``spend_log_ids``
  (the writer inserts there first, ``ON CONFLICT (request_id) DO NOTHING``).
* The conversion renames the old table, creates the partitioned one (same columns and defaults), one
  partition per day present plus the next days, copies every row with ``INSERT ... SELECT``, drops the
  old table and recreates the same indexes (their definitions are read from ``pg_indexes``). It runs in
  the migration's transaction: the tables are locked for the whole copy (see docs/dashboard.md,
  "Partitioning an existing database": the proxy's spool keeps every call while it runs).
* The rollup tables get ``fillfactor = 70`` so the writer's upserts are HOT updates (no index writes).

Revision ID: 0017
Revises: 0013
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from ledgerlm.store.coltypes import Money, UTCDateTime

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None

# frozen here so that later changes to ledgerlm.store never change this revision
_COUNTS = (
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
_NARROW = {  # new table -> (source table, entity column)
    "daily_key_totals": ("daily_key_spend", "api_key"),
    "daily_user_totals": ("daily_user_spend", "user_id"),
    "daily_team_totals": ("daily_team_spend", "team_id"),
    "daily_end_user_totals": ("daily_end_user_spend", "end_user"),
    "daily_tag_totals": ("daily_tag_spend", "tag"),
}
_WEEKLY = ("daily_key_totals", "daily_user_totals", "daily_end_user_totals")  # entities by thousands
_REPLACED = ("daily_end_user_spend", "daily_tag_spend")
_ROLLUPS = (
    *_NARROW,
    *(table.replace("daily_", "weekly_") for table in _WEEKLY),
    "daily_key_spend",
    "daily_user_spend",
    "daily_team_spend",
    "daily_model_spend",
    "daily_provider_spend",
)
_PARTITIONED = {"spend_logs": ("request_id",), "spend_log_tags": ("request_id", "tag")}
_AHEAD_DAYS = 7


def _create_narrow() -> None:
    sums = ", ".join(["SUM(spend)", *(f"SUM({name})" for name in _COUNTS)])
    for table, (source, entity) in _NARROW.items():
        op.create_table(
            table,
            sa.Column("date", sa.Date, nullable=False),
            sa.Column(entity, sa.String(255), nullable=False),
            sa.Column("spend", Money, nullable=False, server_default="0"),
            *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in _COUNTS),
            sa.PrimaryKeyConstraint("date", entity, name=op.f(f"pk_{table}")),
        )
        op.execute(
            f"INSERT INTO {table} (date, {entity}, spend, {', '.join(_COUNTS)}) "
            f"SELECT date, {entity}, {sums} FROM {source} GROUP BY date, {entity}"
        )


def _create_weekly(bind: sa.Connection) -> None:
    sums = ", ".join(["SUM(spend)", *(f"SUM({name})" for name in _COUNTS)])
    week = (
        "date_trunc('week', date)::date"
        if bind.dialect.name == "postgresql"
        else "date(date, 'weekday 0', '-6 days')"
    )
    for daily, (_, entity) in _NARROW.items():
        if daily not in _WEEKLY:
            continue
        table = daily.replace("daily_", "weekly_")
        op.create_table(
            table,
            sa.Column("date", sa.Date, nullable=False),
            sa.Column(entity, sa.String(255), nullable=False),
            sa.Column("spend", Money, nullable=False, server_default="0"),
            *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in _COUNTS),
            sa.PrimaryKeyConstraint("date", entity, name=op.f(f"pk_{table}")),
        )
        op.execute(
            f"INSERT INTO {table} (date, {entity}, spend, {', '.join(_COUNTS)}) "
            f"SELECT {week}, {entity}, {sums} FROM {daily} GROUP BY {week}, {entity}"
        )
    op.create_index("ix_daily_key_totals_api_key_date", "daily_key_totals", ["api_key", "date"])


def _partition_sql(table: str, day: date) -> str:
    low, high = day.isoformat(), (day + timedelta(days=1)).isoformat()
    return (
        f'CREATE TABLE IF NOT EXISTS "{table}_p{day:%Y%m%d}" PARTITION OF {table} '
        f"FOR VALUES FROM ('{low} 00:00:00+00') TO ('{high} 00:00:00+00')"
    )


def _days(bind: sa.Connection, table: str) -> list[date]:
    """The UTC days present in ``table`` plus yesterday, today and ``_AHEAD_DAYS`` days ahead."""
    present = bind.exec_driver_sql(f"SELECT DISTINCT (\"startTime\" AT TIME ZONE 'UTC')::date FROM {table}")
    today = datetime.now(UTC).date()
    ahead = {today + timedelta(days=offset) for offset in range(-1, _AHEAD_DAYS + 1)}
    return sorted({*(row[0] for row in present), *ahead})


def _convert(bind: sa.Connection, table: str, key: tuple[str, ...], partitioned: bool) -> None:
    """Rebuild ``table`` as a partitioned (or again a plain) table with the same rows and indexes."""
    indexes = bind.execute(
        sa.text(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :t "
            "AND indexname <> :pk"
        ),
        {"t": table, "pk": f"pk_{table}"},
    ).scalars()
    # a partitioned table's index reads "ON ONLY <table>": recreated on the whole (new) table
    definitions = [str(definition).replace(" ON ONLY ", " ON ") for definition in indexes]
    old = f"{table}_before_0017"
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    how = ' PARTITION BY RANGE ("startTime")' if partitioned else ""
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS){how}")
    if partitioned:
        for day in _days(bind, old):
            op.execute(_partition_sql(table, day))
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    op.execute(f"DROP TABLE {old}")
    columns = ", ".join(f'"{name}"' for name in (*key, *(("startTime",) if partitioned else ())))
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({columns})")
    for definition in definitions:
        op.execute(definition)


def _split_table(name: str, entity: str) -> None:
    op.create_table(
        name,
        sa.Column("date", sa.Date, nullable=False),
        sa.Column(entity, sa.String(255), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("spend", Money, nullable=False, server_default="0"),
        *(sa.Column(column, sa.BigInteger, nullable=False, server_default="0") for column in _COUNTS),
        sa.PrimaryKeyConstraint("date", entity, "model", name=op.f(f"pk_{name}")),
    )


def _rebuild_replaced(bind: sa.Connection) -> None:
    """Downgrade: the per-model split of end users and tags again, from the spend rows still kept."""
    day = "(s.\"startTime\" AT TIME ZONE 'UTC')::date"
    request = "strpos(s.request_id, '~attempt-') = 0"  # an earlier attempt counts spend, not a request
    if bind.dialect.name != "postgresql":
        day, request = 'date(s."startTime")', "instr(s.request_id, '~attempt-') = 0"
    sums = (
        f"COALESCE(SUM(spend), 0), SUM(CASE WHEN {request} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {request} AND status = 'success' THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {request} AND status = 'failure' THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {request} AND spend IS NULL THEN 1 ELSE 0 END), "
        + ", ".join(f"SUM({name})" for name in _COUNTS[4:])
    )
    model = "COALESCE(NULLIF(model_group, ''), model)"
    _split_table("daily_end_user_spend", "end_user")
    op.execute(
        f"INSERT INTO daily_end_user_spend (date, end_user, model, spend, {', '.join(_COUNTS)}) "
        f"SELECT {day}, end_user, {model}, {sums} FROM spend_logs s WHERE COALESCE(end_user, '') <> '' "
        f"GROUP BY {day}, end_user, {model}"
    )
    _split_table("daily_tag_spend", "tag")
    op.execute(
        f"INSERT INTO daily_tag_spend (date, tag, model, spend, {', '.join(_COUNTS)}) "
        f"SELECT {day}, t.tag, {model}, {sums} FROM spend_logs s JOIN spend_log_tags t "
        f"ON t.request_id = s.request_id GROUP BY {day}, t.tag, {model}"
    )


def upgrade() -> None:
    _create_narrow()
    _create_weekly(op.get_bind())
    for table in _REPLACED:
        op.drop_table(table)
    op.create_table(
        "spend_log_ids",
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("startTime", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_spend_log_ids")),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in _ROLLUPS:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 70)")
    op.execute(
        'INSERT INTO spend_log_ids (request_id, "startTime") SELECT request_id, "startTime" FROM spend_logs'
    )
    for table, key in _PARTITIONED.items():
        _convert(bind, table, key, partitioned=True)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, key in _PARTITIONED.items():
            _convert(bind, table, key, partitioned=False)
        for table in _ROLLUPS:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    op.drop_table("spend_log_ids")
    _rebuild_replaced(bind)
    for table in _WEEKLY:
        op.drop_table(table.replace("daily_", "weekly_"))
    for table in _NARROW:
        op.drop_table(table)
