"""The ISO-week x entity rollups (``WEEKLY_TOTAL_TABLES``), built for CLOSED weeks only (issue 21).

A week (Monday 00:00 UTC to Sunday 24:00 UTC) is folded from the day x entity rollups
(``DAILY_TOTAL_TABLES``) once it has ended, and recorded in ``rollup_watermarks`` (migration 0018):
row ``name = 'weekly'``, ``built_through`` = the Monday of the last week built. So:

* The weekly tables hold exactly the weeks ``<= built_through``, each equal to the sum of its 7 daily
  rows. Readers (``store.dashboard``) read a full week from the weekly tables only when its Monday is
  ``<= built_through`` and the daily tables otherwise: totals always equal the rows.
* Whatever adds to the rollups later (the fold of the PostgreSQL writer's deltas,
  ``store.rollup_deltas``; the SQLite writer, ``store.ingest``; ledger adjustments) adds to the weekly
  rows only for a week already built (a late row); the rows of the current week cost no weekly upsert.

Concurrency (PostgreSQL): ``build_closed_weeks`` holds an exclusive transaction-level advisory lock
(``LOCK_ID``) while it reads the daily rows and moves the watermark; the fold and ledger adjustments take
the SHARED lock (``lock_shared``) in a statement BEFORE the one that reads the watermark. One that
started first finishes before the build reads the daily rows (the build sees what it added); one that
starts later waits and then sees the new watermark (so it adds late rows to the weekly rows itself).
The PostgreSQL writer needs no lock: it only appends deltas, and a delta of a week built meanwhile is
added to that week by the fold that takes it. SQLite runs one write transaction at a time; its writer
reads the watermark after its first write.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledgerlm.store.tables import COUNTER_COLUMNS, DAILY_TOTAL_TABLES, WEEKLY_TOTAL_TABLES, rollup_watermarks

__all__ = ["LOCK_ID", "WATERMARK", "build_closed_weeks", "built_through", "lock_shared", "monday"]

WATERMARK = "weekly"
LOCK_ID = 0x6C6C6D77  # "llmw": the advisory lock between the writer and the weekly build
THROUGH_SQL = f"(SELECT built_through FROM rollup_watermarks WHERE name = '{WATERMARK}')"
"""The watermark as an SQL scalar subquery (NULL before any build): the PostgreSQL writer's filter."""


def monday(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def last_closed_monday(today: date) -> date:
    """The Monday of the last week that has ended by UTC ``today`` (the week before today's)."""
    return monday(today) - timedelta(days=7)


async def lock_shared(conn: AsyncConnection) -> None:
    """PostgreSQL: the shared side of ``LOCK_ID`` for this transaction (a writer); SQLite: nothing."""
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock_shared({LOCK_ID})")


async def built_through(conn: AsyncConnection) -> date | None:
    """The Monday of the last week folded into the weekly rollups (``None``: none yet)."""
    found = await conn.scalar(
        sa.select(rollup_watermarks.c.built_through).where(rollup_watermarks.c.name == WATERMARK)
    )
    return found if isinstance(found, date) or found is None else date.fromisoformat(str(found))


async def build_closed_weeks(engine: AsyncEngine, today: date | None = None) -> list[date]:
    """Fold every ended week after the watermark into the weekly rollups and move the watermark, in
    one transaction; the Mondays built (empty when up to date). ``today``: UTC date (default now).

    A fresh watermark (no row) starts at the earliest day of the daily rollups. Each week's weekly
    rows are REPLACED by the sums of its daily rows (so a rerun after a partial state is exact)."""
    target = last_closed_monday(today or datetime.now(UTC).date())
    async with engine.connect() as conn:  # the common case, up to date: no lock taken
        through = await built_through(conn)
    if through is not None and through >= target:
        return []
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_ID})")
        through = await built_through(conn)
        first = through + timedelta(days=7) if through is not None else await _first_monday(conn)
        if first is None or first > target:
            await _set_watermark(conn, target if through is None else max(through, target))
            return []
        for kind, weekly in WEEKLY_TOTAL_TABLES.items():
            await _fold(conn, DAILY_TOTAL_TABLES[kind], weekly, (first, target + timedelta(days=6)))
        await _set_watermark(conn, target)
    return [first + timedelta(days=7 * n) for n in range((target - first).days // 7 + 1)]


async def _first_monday(conn: AsyncConnection) -> date | None:
    days = [await conn.scalar(sa.select(sa.func.min(t.c.date))) for t in DAILY_TOTAL_TABLES.values()]
    found = [d if isinstance(d, date) else date.fromisoformat(str(d)) for d in days if d is not None]
    return monday(min(found)) if found else None


def _week_of(column: sa.ColumnElement[date], dialect: str) -> sa.ColumnElement[date]:
    if dialect == "postgresql":
        return sa.cast(sa.func.date_trunc("week", column), sa.Date)
    return sa.func.date(column, "weekday 0", "-6 days")  # SQLite: the Monday on or before


async def _fold(conn: AsyncConnection, daily: sa.Table, weekly: sa.Table, days: tuple[date, date]) -> None:
    """Replace ``weekly``'s rows of the weeks in inclusive ``days`` by the sums of ``daily``'s."""
    entity = list(daily.primary_key.columns)[1].name
    week = _week_of(daily.c.date, conn.dialect.name).label("date")
    counters = ["spend", *COUNTER_COLUMNS]
    sums = [sa.func.sum(daily.c[name]).label(name) for name in counters]
    source = (
        sa.select(week, daily.c[entity], *sums)
        .where(daily.c.date >= days[0], daily.c.date <= days[1])
        .group_by(week, daily.c[entity])
    )
    await conn.execute(weekly.delete().where(weekly.c.date >= days[0], weekly.c.date <= days[1]))
    await conn.execute(weekly.insert().from_select(["date", entity, *counters], source))


async def _set_watermark(conn: AsyncConnection, through: date) -> None:
    updated = await conn.execute(
        rollup_watermarks.update().where(rollup_watermarks.c.name == WATERMARK).values(built_through=through)
    )
    if not updated.rowcount:
        await conn.execute(rollup_watermarks.insert().values(name=WATERMARK, built_through=through))
