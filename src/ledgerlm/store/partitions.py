"""Daily partitions of ``spend_logs`` and ``spend_log_tags`` on PostgreSQL (migration 0017).

Each table is ``PARTITION BY RANGE ("startTime")`` with one partition per UTC day, named
``<table>_pYYYYMMDD`` and holding ``[day 00:00+00, day+1 00:00+00)``. There is no default partition:

* ``ensure_days(conn, days)``: creates the partitions of ``days`` that do not exist yet
  (``CREATE TABLE IF NOT EXISTS ... PARTITION OF``; the spend writer calls it for every batch, inside
  the batch's transaction, so a row never lacks its partition). A day is remembered only once its
  partitions existed before the transaction (a rolled-back creation is never trusted); so a batch
  costs one catalog query per day not yet remembered and nothing after that.
* ``create_ahead(engine, days_ahead)``: today and the next days (the maintenance loop, ``store.retention``),
  so the writer's check is almost always a set lookup.
* ``partition_days(conn, table)``: the days that have a partition, from ``pg_inherits``.

A process remembers the days it created or saw in ``_known`` (per engine), forgotten after
``KNOWN_TTL_S`` and when retention drops a day (``forget``).
"""

from __future__ import annotations

import re
import time
import weakref
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

PARTITIONED: tuple[str, ...] = ("spend_logs", "spend_log_tags")
KNOWN_TTL_S = 3600.0
_NAME = re.compile(r"_p(\d{8})$")
_known: weakref.WeakKeyDictionary[sa.Engine, tuple[float, set[date]]] = weakref.WeakKeyDictionary()


def partition_name(table: str, day: date) -> str:
    """``spend_logs_p20261206`` for ``table="spend_logs"``, ``day=2026-12-06``."""
    return f"{table}_p{day:%Y%m%d}"


def create_sql(table: str, day: date) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of ``table``'s partition for UTC ``day``."""
    low, high = day.isoformat(), (day + timedelta(days=1)).isoformat()
    return (
        f'CREATE TABLE IF NOT EXISTS "{partition_name(table, day)}" PARTITION OF {table} '
        f"FOR VALUES FROM ('{low} 00:00:00+00') TO ('{high} 00:00:00+00')"
    )


def _cache(engine: sa.Engine) -> set[date]:
    entry = _known.get(engine)
    if entry is None or time.monotonic() - entry[0] > KNOWN_TTL_S:
        entry = (time.monotonic(), set())
        _known[engine] = entry
    return entry[1]


async def ensure_days(conn: AsyncConnection, days: Iterable[date]) -> None:
    """Create the missing partitions of ``days`` (both tables) in ``conn``'s transaction; PostgreSQL only."""
    if conn.dialect.name != "postgresql":
        return
    known = _cache(conn.sync_engine)
    missing = sorted(set(days) - known)
    if not missing:
        return
    names = [partition_name(table, day) for day in missing for table in PARTITIONED]
    query = sa.text("SELECT name FROM unnest(CAST(:names AS text[])) AS name WHERE to_regclass(name) IS NULL")
    absent = set((await conn.execute(query, {"names": names})).scalars())
    for day in missing:
        created = False
        for table in PARTITIONED:
            if partition_name(table, day) in absent:
                await conn.exec_driver_sql(create_sql(table, day))
                created = True
        if not created:  # only a partition committed before this transaction is remembered
            known.add(day)


def forget(engine: AsyncEngine, days: Iterable[date]) -> None:
    """Drop ``days`` from this process's cache (their partitions were dropped)."""
    entry = _known.get(engine.sync_engine)
    if entry is not None:
        entry[1].difference_update(days)


async def partition_days(conn: AsyncConnection, table: str = "spend_logs") -> list[date]:
    """The UTC days that have a partition of ``table`` (sorted); ``[]`` when it is not partitioned."""
    result = await conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": table},
    )
    days = []
    for name in result.scalars():
        found = _NAME.search(str(name))
        if found:
            days.append(datetime.strptime(found.group(1), "%Y%m%d").replace(tzinfo=UTC).date())
    return sorted(days)


async def create_ahead(engine: AsyncEngine, days_ahead: int = 3) -> list[date]:
    """Create the partitions of today (UTC) and the next ``days_ahead`` days (each in its own short
    transaction); the days ensured. No-op (``[]``) on SQLite."""
    if engine.dialect.name != "postgresql":
        return []
    today = datetime.now(UTC).date()
    days = [today + timedelta(days=offset) for offset in range(days_ahead + 1)]
    for day in days:
        async with engine.begin() as conn:
            await ensure_days(conn, [day])
    return days
