"""Spend log retention (issue 21): old days' rows go (whole partitions on PostgreSQL, DELETE on SQLite),
stored prompts go sooner, the daily rollups keep every total; on partitioned PostgreSQL a replayed row
is still written once and a request id stays unique across days.

Runs on SQLite and PostgreSQL (``database`` fixture; this module's own database).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import SpendLog, partitions, rollup_deltas
from ledgerlm.store.retention import RetentionPolicy, apply, duration_days
from ledgerlm.store.tables import daily_team_totals, spend_log_tags, spend_logs

from .factories import Database, make_record, uid
from .helpers import count_rows, ingest, scalar

TODAY = date(2030, 1, 20)
ONE_CALL = Decimal("0.0002865")  # make_record's cost


def _row(team: str, day: date, **overrides: Any) -> dict[str, Any]:
    start = datetime.combine(day, time(12), UTC).timestamp()
    record = make_record(team_id=team, start_time=start, end_time=start + 1, **overrides)
    return SpendLog.from_record(record, store_prompts=True)


async def _team_total(engine: AsyncEngine, team: str) -> tuple[Decimal, int]:
    await rollup_deltas.fold(engine)  # PostgreSQL: the pending rollup deltas into the tables
    c = daily_team_totals.c
    statement = sa.select(sa.func.sum(c.spend), sa.func.sum(c.api_requests)).where(c.team_id == team)
    async with engine.connect() as conn:
        spend, requests = (await conn.execute(statement)).one()
    return Decimal(spend), int(requests)


async def test_retention_drops_old_days_clears_prompts_and_keeps_rollups(
    database: Database, engine: AsyncEngine
) -> None:
    team = uid("team-")
    days = {"old": TODAY - timedelta(days=10), "mid": TODAY - timedelta(days=5), "new": TODAY}
    batch = [_row(team, day) for day in days.values() for _ in range(2)]
    assert len(await ingest(engine, batch)) == 6
    assert len(await ingest(engine, batch)) == 0  # a replay is written once (partitioned too)
    before = await _team_total(engine, team)
    assert before == (ONE_CALL * 6, 6)

    result = await apply(engine, RetentionPolicy(keep_days=7, prompt_days=3), today=TODAY)

    of_team = spend_logs.c.team_id == team
    assert await count_rows(engine, of_team) == 4  # the two calls of the old day are gone
    low = datetime.combine(days["mid"], time(), UTC)
    assert await count_rows(engine, of_team, spend_logs.c.startTime < low) == 0
    prompts = spend_logs.c.messages.is_not(None)
    assert await count_rows(engine, of_team, prompts, spend_logs.c.startTime < low + timedelta(days=1)) == 0
    assert await count_rows(engine, of_team, prompts, spend_logs.c.startTime >= low + timedelta(days=1)) == 2
    tags = sa.select(sa.func.count()).select_from(spend_log_tags).where(spend_log_tags.c.startTime < low)
    assert await scalar(engine, tags) == 0
    assert await _team_total(engine, team) == before  # rollups keep the totals
    if database.kind == "postgresql":
        assert days["old"] in result.dropped_days and days["mid"] in result.prompt_days
        async with engine.connect() as conn:
            kept = await partitions.partition_days(conn)
            assert days["old"] not in kept and days["mid"] in kept and TODAY in kept
            assert days["old"] not in await partitions.partition_days(conn, "spend_log_tags")
    else:
        assert result.rows_deleted >= 2


async def test_request_id_stays_unique_across_days(database: Database, engine: AsyncEngine) -> None:
    """Another call reusing a client's request id on ANOTHER day (another partition) is renamed, as on
    one day; the same call replayed is skipped."""
    team, request_id = uid("team-"), uid("client-")
    first = _row(team, TODAY - timedelta(days=1), id=request_id)
    second = _row(team, TODAY, id=request_id)
    assert await ingest(engine, [first]) == [request_id]
    assert await ingest(engine, [second]) == [f"{request_id}~{second['call_uid'][:12]}"]
    assert await ingest(engine, [first, second]) == []
    assert await count_rows(engine, spend_logs.c.team_id == team) == 2


def test_durations_accept_litellm_spelling() -> None:
    assert duration_days(7) == 7
    assert duration_days("7d") == 7
    assert duration_days("24h") == 1
    assert duration_days("60m") == 1  # one partition is one UTC day: rounded up
    assert duration_days("3600s") == 1
    assert duration_days("36h") == 2
    assert RetentionPolicy.from_settings({"maximum_spend_logs_retention_period": "30d"}).keep_days == 30
    assert RetentionPolicy.from_settings({"spend_log_retention_days": 9}).keep_days == 9
    with pytest.raises(ValueError, match="duration"):
        duration_days("a week")
