"""The weekly rollups of ended weeks (``store.weekly``, migration 0018; issue 21): a build folds each
ended week from the daily rollups exactly once and moves the watermark; rows of a week not built yet
cost the writer no weekly upsert; a build waits for a writer transaction in flight (PostgreSQL) so
that no row is missed. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import SpendLog, rollup_deltas, weekly
from ledgerlm.store.ingest import write_rows
from ledgerlm.store.tables import daily_end_user_totals, weekly_end_user_totals

from .factories import make_record, uid
from .helpers import ingest


def _row(end_user: str, day: date) -> dict[str, Any]:
    at = datetime.combine(day, time(12), UTC).timestamp()
    return SpendLog.from_record(
        make_record(end_user=end_user, start_time=at, end_time=at + 1), store_prompts=False
    )


async def _weekly_rows(engine: AsyncEngine, end_user: str) -> dict[date, tuple[Any, int]]:
    await rollup_deltas.fold(engine)  # PostgreSQL: the pending rollup deltas into the tables
    t = weekly_end_user_totals
    async with engine.connect() as conn:
        found = await conn.execute(
            sa.select(t.c.date, t.c.spend, t.c.api_requests).where(t.c.end_user == end_user)
        )
        return {(d if isinstance(d, date) else date.fromisoformat(d)): (s, n) for d, s, n in found}


async def _daily_sum(engine: AsyncEngine, end_user: str, monday: date) -> tuple[Any, int]:
    await rollup_deltas.fold(engine)
    t = daily_end_user_totals
    async with engine.connect() as conn:
        found = await conn.execute(
            sa.select(sa.func.sum(t.c.spend), sa.func.sum(t.c.api_requests)).where(
                t.c.end_user == end_user, t.c.date >= monday, t.c.date <= monday + timedelta(days=6)
            )
        )
        spend, count = found.one()
        return spend, int(count)


async def test_build_folds_ended_weeks_once_and_late_rows_follow(engine: AsyncEngine) -> None:
    user = uid("eu-")
    first = date(2033, 1, 3)  # a Monday, after every other test's dates
    await ingest(engine, [_row(user, first + timedelta(days=offset)) for offset in range(0, 21, 2)])
    assert await _weekly_rows(engine, user) == {}  # not built: the writer wrote no weekly row
    built = await weekly.build_closed_weeks(engine, today=first + timedelta(days=15))  # weeks 1 and 2 ended
    assert first + timedelta(days=7) in built and first + timedelta(days=14) not in built
    rows = await _weekly_rows(engine, user)
    assert set(rows) == {first, first + timedelta(days=7)}
    for monday, sums in rows.items():
        assert (sums[0], int(sums[1])) == await _daily_sum(engine, user, monday)
    assert await weekly.build_closed_weeks(engine, today=first + timedelta(days=15)) == []  # up to date
    # a late row of a built week goes to the weekly row too; one of the open week does not
    await ingest(engine, [_row(user, first + timedelta(days=1)), _row(user, first + timedelta(days=15))])
    rows = await _weekly_rows(engine, user)
    assert int(rows[first][1]) == 5 and set(rows) == {first, first + timedelta(days=7)}
    assert (rows[first][0], int(rows[first][1])) == await _daily_sum(engine, user, first)
    await weekly.build_closed_weeks(engine, today=first + timedelta(days=22))
    rows = await _weekly_rows(engine, user)
    week3 = first + timedelta(days=14)
    assert (rows[week3][0], int(rows[week3][1])) == await _daily_sum(engine, user, week3)


async def test_rows_in_flight_during_a_build_land_in_the_built_week(
    engine: AsyncEngine, database: Any
) -> None:
    if database.kind != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time (the writer holds the database lock)")
    user = uid("eu-")
    first = date(2034, 1, 2)  # a Monday
    await ingest(engine, [_row(user, first)])
    async with engine.begin() as conn:  # a writer mid-batch: its delta is not committed yet
        await write_rows(conn, [_row(user, first + timedelta(days=3))])
        # the build does not wait for it (the writer only appends deltas) ...
        await weekly.build_closed_weeks(engine, today=first + timedelta(days=8))
    # ... and the fold after its commit adds it to the built week too
    assert int((await _weekly_rows(engine, user))[first][1]) == 2
    async with engine.begin() as conn:  # a FOLD in flight holds the shared lock: the build waits
        await write_rows(conn, [_row(user, first + timedelta(days=8))])
        await rollup_deltas.fold_in(conn)
        build = asyncio.create_task(weekly.build_closed_weeks(engine, today=first + timedelta(days=15)))
        await asyncio.sleep(0.5)
        assert not build.done()
    await build
    week2 = first + timedelta(days=7)
    assert (await _weekly_rows(engine, user))[week2][1] == 1
