"""Rollup totals equal the spend rows whatever the interleaving (issue 21 review): rows with NULL or
empty entities, unpriced rows, attempt rows, model groups; pending deltas, folds, weekly builds,
late rows and ledger adjustments in any order. SQLite and PostgreSQL (a fresh database per module:
its totals are this module's rows only)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.ledger.adjustments import Correction, RowState, RunInfo, write_adjustments
from ledgerlm.record import ATTEMPT_MARK
from ledgerlm.store import SpendLog, partitions, rollup_deltas, weekly
from ledgerlm.store.dashboard import OverviewQuery, Visible, overview
from ledgerlm.store.spend_queries import spend_report
from ledgerlm.store.tables import spend_adjustments, spend_logs
from ledgerlm.types import Cost

from .factories import make_record, uid
from .helpers import ingest

FIRST = date(2036, 1, 2)  # a Wednesday
_DIMENSIONS = {
    "end_user": lambda r: [r["end_user"]],
    "key": lambda r: [r["api_key"]],
    "user": lambda r: [r["user"]],
    "team": lambda r: [r["team_id"]],
    "tag": lambda r: r["request_tags"],
    "model": lambda r: [r["model_group"] or r["model"]],
    "provider": lambda r: [r["custom_llm_provider"]],
}
_REPORTS = {"team": "team_id", "customer": "end_user", "api_key": "api_key", "user": "user"}


def _row(rng: random.Random, day: date) -> dict[str, Any]:
    at = datetime.combine(day, time(rng.randrange(24)), UTC).timestamp()
    record = make_record(start_time=at, end_time=at + 1)
    row = SpendLog.from_record(record, store_prompts=False)
    row["api_key"] = rng.choice([None, "sk-a", "sk-b"])
    row["user"] = rng.choice([None, "", "u1", "u2"])
    row["team_id"] = rng.choice([None, "", "t1"])
    row["end_user"] = rng.choice([None, "", "e1", "e2", "e3"])
    row["request_tags"] = rng.choice([[], ["x"], ["x", "y"]])
    row["model_group"] = rng.choice([None, "", "g1"])
    row["model"] = rng.choice(["m1", "m2"])
    row["custom_llm_provider"] = rng.choice([None, "", "openai", "azure"])
    row["status"] = rng.choice(["success", "failure"])
    row["spend"] = rng.choice([None, "0.25", "0.0000001", "3"])
    if rng.random() < 0.2:
        row["request_id"] = f"{row['request_id']}{ATTEMPT_MARK}1"
    return row


async def _stored(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        found = [dict(r) for r in (await conn.execute(sa.select(spend_logs))).mappings()]
        adjustments = {
            r.request_id: r.delta for r in await conn.execute(sa.select(spend_adjustments))
        }  # one adjustment per row at most here; charged on the row's own day
    for row in found:
        row["adjusted"] = adjustments.get(row["request_id"])
    return found


Sums = dict[Any, tuple[Decimal, int, int]]


def _expected(rows: list[dict[str, Any]], key: Any, start: date, end: date) -> Sums:
    sums: dict[Any, list[Any]] = defaultdict(lambda: [Decimal(0), 0, 0])
    for row in rows:
        day = row["startTime"].astimezone(UTC).date()
        if not start <= day <= end:
            continue
        request = ATTEMPT_MARK not in row["request_id"]
        spend = (row["spend"] or Decimal(0)) + (row["adjusted"] or Decimal(0))
        unpriced = request and row["spend"] is None and row["adjusted"] is None
        for group in key(row):
            if group in (None, ""):
                continue
            sums[group][0] += spend
            sums[group][1] += int(request)
            sums[group][2] += int(unpriced)
    return {group: (s, n, u) for group, (s, n, u) in sums.items()}


def _found(rows: list[dict[str, Any]]) -> Sums:
    out = {}
    for row in rows:
        group = row["group"]
        if isinstance(group, str) and len(group) == 10 and group[4] == "-":
            group = date.fromisoformat(group)
        out[group] = (row["spend"], row["api_requests"], row["unpriced_requests"])
    return out


async def _check(engine: AsyncEngine, step: str, first: date = FIRST) -> None:
    rows = await _stored(engine)
    start, end = first, first + timedelta(days=40)
    for group_by, column in _REPORTS.items():
        expected = _expected(rows, lambda r, c=column: [r[c]], start, end)
        found = _found(await spend_report(engine, group_by, start=start, end=end))  # type: ignore[arg-type]
        assert found == expected, (step, group_by)
    expected = _expected(rows, lambda r: r["request_tags"], start, end)
    assert _found(await spend_report(engine, "tag", start=start, end=end)) == expected, (step, "tag")
    model = _expected(rows, lambda r: [r["model_group"] or r["model"]], start, end)
    assert _found(await spend_report(engine, "model", start=start, end=end)) == model, (step, "model")
    by_day = _expected(rows, lambda r: [r["startTime"].astimezone(UTC).date()], start, end)
    assert _found(await spend_report(engine, "day", start=start, end=end)) == by_day, (step, "day")
    for offset, length in ((0, 40), (3, 9), (5, 20), (6, 1), (12, 16)):
        low, high = first + timedelta(days=offset), first + timedelta(days=offset + length)
        for dimension, key in _DIMENSIONS.items():
            query = OverviewQuery(dimension, low, high, Visible(everything=True), top=1000)
            result = await overview(engine, query)
            expected = _expected(rows, key, low, high)
            assert _found(result["groups"] or []) == expected, (step, dimension, low, high)
        mine = [r for r in rows if r["user"] == "u1"]
        query = OverviewQuery("model", low, high, Visible(user_ids=frozenset({"u1"})), top=1000)
        restricted = await overview(engine, query)
        assert _found(restricted["groups"] or []) == _expected(mine, _DIMENSIONS["model"], low, high)
        total = _expected(mine, lambda r: ["all"], low, high).get("all", (Decimal(0), 0, 0))
        got = restricted["totals"]
        assert (got["spend"], got["api_requests"], got["unpriced_requests"]) == total, (step, low)
        total = _expected(rows, lambda r: ["all"], low, high).get("all", (Decimal(0), 0, 0))
        totals = result["totals"]
        assert (totals["spend"], totals["api_requests"], totals["unpriced_requests"]) == total, (step, low)


async def _adjust(engine: AsyncEngine, rng: random.Random, count: int) -> None:
    rows = [r for r in await _stored(engine) if r["adjusted"] is None]
    picked = rng.sample(rows, min(count, len(rows)))
    corrections = []
    for row in picked:
        dims = {name: row[name] for name in ("api_key", "team_id", "user", "organization_id", "end_user",
                                              "model", "model_group", "custom_llm_provider",
                                              "request_tags")}  # fmt: skip
        before = RowState(0, row["spend"], row["price_id"])
        cost = Cost(total=Decimal("0.5"), price_id="p-test")
        corrections.append(Correction(row["request_id"], row["startTime"], before, cost, dims))
    run = RunInfo(uid("run-"), "qa", "review", datetime.combine(FIRST + timedelta(days=60), time(), UTC))
    async with engine.begin() as conn:
        await write_adjustments(conn, corrections, run)


async def test_rollups_equal_the_rows_through_folds_builds_late_rows_and_adjustments(
    engine: AsyncEngine,
) -> None:
    rng = random.Random(21)
    days = [FIRST + timedelta(days=offset) for offset in range(35)]
    await ingest(engine, [_row(rng, rng.choice(days[:20])) for _ in range(150)])
    await _check(engine, "pending")
    await rollup_deltas.fold(engine)
    await _check(engine, "folded")
    await ingest(engine, [_row(rng, rng.choice(days[:20])) for _ in range(60)])  # pending at the build
    await weekly.build_closed_weeks(engine, today=FIRST + timedelta(days=19))
    await _check(engine, "built with deltas pending")
    await ingest(engine, [_row(rng, rng.choice(days)) for _ in range(60)])  # late rows, built weeks too
    await _adjust(engine, rng, 25)
    await _check(engine, "late rows and adjustments")
    await rollup_deltas.fold(engine)
    await _check(engine, "folded again")
    await weekly.build_closed_weeks(engine, today=FIRST + timedelta(days=33))
    await _adjust(engine, rng, 25)
    await _check(engine, "second build and adjustments")
    await rollup_deltas.fold(engine)
    await _check(engine, "final fold")


async def test_concurrent_writers_folds_builds_and_adjustments(database: Any) -> None:
    """Two instances writing and folding at once, weekly builds and adjustments between: no deadlock,
    nothing lost or doubled (SQLite: the same through its write lock)."""
    import asyncio

    engines = [database.engine(), database.engine()]
    rng = random.Random(7)
    start = FIRST + timedelta(days=70)
    days = [start + timedelta(days=offset) for offset in range(28)]
    errors: list[BaseException] = []

    async def writer(engine: AsyncEngine, seed: int) -> None:
        local = random.Random(seed)
        for _ in range(15):
            try:
                await ingest(engine, [_row(local, local.choice(days)) for _ in range(20)])
                await rollup_deltas.fold(engine)
            except Exception as exc:
                errors.append(exc)

    async def builder(engine: AsyncEngine) -> None:
        for week in range(1, 5):
            try:
                await weekly.build_closed_weeks(engine, today=start + timedelta(days=7 * week))
            except Exception as exc:
                errors.append(exc)
            await asyncio.sleep(0.05)

    async def adjuster(engine: AsyncEngine) -> None:
        for _ in range(6):
            try:
                await _adjust(engine, rng, 10)
            except Exception as exc:
                errors.append(exc)
            await asyncio.sleep(0.03)

    async with engines[0].begin() as conn:  # the partitions exist (two writers creating one race)
        await partitions.ensure_days(conn, set(days))
    try:
        await asyncio.gather(
            writer(engines[0], 1), writer(engines[1], 2), builder(engines[0]), adjuster(engines[1])
        )
        assert errors == [], "\n".join(str(e)[:600].replace("\n", " ") for e in errors)
        await _check(engines[0], "concurrent", start)
        await rollup_deltas.fold(engines[0])
        await _check(engines[0], "concurrent, folded", start)
    finally:
        for engine in engines:
            await engine.dispose()
