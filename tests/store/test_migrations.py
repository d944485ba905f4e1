"""Migrations: the packaged Alembic revisions create exactly the schema ``store.tables`` declares."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import partitions, weekly
from ledgerlm.store.dashboard import OverviewQuery, Visible, overview
from ledgerlm.store.migrate import VERSION_TABLE, current_revision, head_revision, migrate_async
from ledgerlm.store.spend_log import SpendLog
from ledgerlm.store.spend_queries import LogFilter, query_logs
from ledgerlm.store.tables import metadata, spend_logs

from .factories import Database, make_record
from .helpers import count_rows, ingest, rows


def _not_a_partition(name: str | None, type_: str, parent_names: Any) -> bool:
    """Skip the daily partitions of ``spend_logs`` / ``spend_log_tags`` (PostgreSQL, migration 0017):
    they are created at run time, the partitioned tables themselves are compared."""
    table = name if type_ == "table" else (parent_names or {}).get("table_name")
    return not (table and re.search(r"_p\d{8}$", str(table)))


def _diff(sync_connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        sync_connection,
        opts={"compare_type": True, "version_table": VERSION_TABLE, "include_name": _not_a_partition},
    )
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_the_table_definitions(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        differences = await conn.run_sync(_diff)
    assert differences == []


async def test_database_is_at_head_and_upgrade_is_idempotent(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
    await migrate_async(engine)  # a second upgrade is a no-op
    assert await current_revision(engine) == head_revision()
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
    assert {
        "spend_logs",
        "spend_log_tags",
        "daily_tag_totals",
        "verification_tokens",
        VERSION_TABLE,
    } <= tables


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty, never migrated database of each kind."""
    if request.param == "sqlite":
        yield Database("sqlite", f"sqlite:///{tmp_path / 'old.db'}")
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"ledgerlm_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Database("postgresql", url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


_LATER_COLUMNS = ("call_uid", "price_id")  # added by revisions 0003 and 0007
_SPEND_LOGS_0001 = sa.Table(
    "spend_logs",
    sa.MetaData(),
    *(column._copy() for column in spend_logs.c if column.name not in _LATER_COLUMNS),
)


def _without_uid(row: dict[str, Any]) -> dict[str, Any]:
    params = SpendLog.to_params(row)
    for name in _LATER_COLUMNS:
        params.pop(name)
    return params


async def test_upgrade_from_the_first_revision_keeps_rows(fresh_database: Database) -> None:
    """A database created at revision 0001 with rows in it upgrades to head with the rows intact."""
    engine = fresh_database.engine()
    try:
        await migrate_async(engine, "0001")
        batch = rows(3)
        async with engine.begin() as conn:  # rows as that revision stored them (no call_uid column)
            await conn.execute(sa.insert(_SPEND_LOGS_0001), [_without_uid(row) for row in batch])
        await migrate_async(engine)
        assert await current_revision(engine) == head_revision()
        stored = await query_logs(engine, LogFilter(request_id=batch[0]["request_id"]))
        assert stored[0]["metadata"]["cost"]["total"] == "0.0002865"
        ids = [row["request_id"] for row in batch]
        assert await count_rows(engine, spend_logs.c.request_id.in_(ids)) == 3
    finally:
        await engine.dispose()


async def test_money_columns_of_an_older_database_become_exact(fresh_database: Database) -> None:
    """Issue 14 (revision 0013): a PostgreSQL database whose money columns are ``NUMERIC(24, 10)`` (as
    every revision before 0013 created them) gets unconstrained ``NUMERIC``: a cost of 22 decimal places
    is stored and summed to its last digit. SQLite keeps 1e-10 USD integers (rounded half-even)."""
    from importlib import import_module

    money = import_module("ledgerlm.migrations.versions.0013_exact_money").MONEY_COLUMNS
    engine = fresh_database.engine()
    postgres = fresh_database.kind == "postgresql"
    try:
        await migrate_async(engine, "0011")  # the revision before 0013
        if postgres:
            async with engine.begin() as conn:
                for table, columns in money.items():
                    for column in columns:
                        await conn.exec_driver_sql(
                            f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE NUMERIC(24, 10)'
                        )
        await migrate_async(engine)
        exact = "0.0000014916666666666677"
        row = {**rows(1)[0], "spend": exact}
        params = SpendLog.to_params(row)
        async with engine.begin() as conn:
            await partitions.ensure_days(conn, [params["startTime"].date()])  # PostgreSQL: its day
            await conn.execute(sa.insert(spend_logs), [params])
            if postgres:
                scales = await conn.exec_driver_sql(
                    "SELECT table_name, column_name, numeric_scale FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND data_type = 'numeric'"
                )
                found = {(t, c): s for t, c, s in scales}
        stored = (await query_logs(engine, LogFilter(request_id=row["request_id"])))[0]["spend"]
        assert stored == (Decimal(exact) if postgres else Decimal("0.0000014917"))
        if postgres:
            dropped = ("daily_end_user_spend", "daily_tag_spend")  # replaced by day x entity tables (0017)
            expected = {(t, c) for t, columns in money.items() for c in columns if t not in dropped}
            assert expected <= set(found) and all(found[k] is None for k in expected)
    finally:
        await engine.dispose()


def _downgrade(sync_connection: Any, revision: str) -> None:
    from alembic import command

    from ledgerlm.store.migrate import alembic_config

    config = alembic_config()
    config.attributes["connection"] = sync_connection
    command.downgrade(config, revision)


async def test_partitioning_revision_downgrades_and_upgrades_with_the_rows(fresh_database: Database) -> None:
    """Revision 0017 down and up again keeps every spend row; the per-model split of end users is
    rebuilt from the rows on the way down; PostgreSQL's spend_logs is plain, then partitioned again."""
    from .helpers import ingest

    engine = fresh_database.engine()
    postgres = fresh_database.kind == "postgresql"
    kind = "SELECT relkind::text FROM pg_class WHERE oid = to_regclass('spend_logs')"
    try:
        await migrate_async(engine)
        written = await ingest(engine, rows(3, end_user="eu-down"))
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "0013")
        async with engine.connect() as conn:
            if postgres:
                assert (await conn.exec_driver_sql(kind)).scalar() == "r"
            split = await conn.exec_driver_sql(
                "SELECT SUM(api_requests) FROM daily_end_user_spend WHERE end_user = 'eu-down'"
            )
            assert split.scalar() == 3
        await migrate_async(engine)
        async with engine.connect() as conn:
            if postgres:
                assert (await conn.exec_driver_sql(kind)).scalar() == "p"
        assert await count_rows(engine, spend_logs.c.request_id.in_(written)) == 3
        assert await ingest(engine, rows(1)) != []  # the writer works on the rebuilt tables
    finally:
        await engine.dispose()


async def test_0018_down_and_up_keeps_the_weekly_rollups_equal_to_the_rows(fresh_database: Database) -> None:
    """Downgrade folds the pending deltas and rebuilds the weeks not built; the weekly rows then equal
    their daily rows for every week; upgraded again, the overview still equals the rows."""
    engine = fresh_database.engine()
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=offset) for offset in (0, 3, 9, 16, 30)]
    try:
        await migrate_async(engine)
        await ingest(engine, [_dated_row(day, end_user=f"eu-{n % 2}") for n, day in enumerate(days * 2)])
        await weekly.build_closed_weeks(engine)
        await ingest(engine, [_dated_row(day, end_user="eu-0") for day in days])  # pending (PostgreSQL)
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "0017")
        async with engine.connect() as conn:
            for table, daily, entity in (
                ("weekly_end_user_totals", "daily_end_user_totals", "end_user"),
                ("weekly_key_totals", "daily_key_totals", "api_key"),
            ):
                found = await conn.exec_driver_sql(f"SELECT date, {entity}, api_requests FROM {table}")
                weeks = {(weekly.monday(_day(d)), e): int(n) for d, e, n in found}
                sums: dict[tuple[date, str], int] = {}
                for d, e, n in await conn.exec_driver_sql(
                    f"SELECT date, {entity}, api_requests FROM {daily}"
                ):
                    key = (weekly.monday(_day(d)), e)
                    sums[key] = sums.get(key, 0) + int(n)
                assert weeks == sums, table
        await migrate_async(engine)
        result = await overview(engine, OverviewQuery("end_user", days[-1], today, Visible(everything=True)))
        assert {g["group"]: g["api_requests"] for g in result["groups"] or []} == {"eu-0": 10, "eu-1": 5}
    finally:
        await engine.dispose()


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _dated_row(day: date, **fields: Any) -> dict[str, Any]:
    at = datetime.combine(day, time(12), UTC).timestamp()
    row = SpendLog.from_record(make_record(start_time=at, end_time=at + 1), store_prompts=False)
    row.update(fields)
    return row
