"""Closed periods on SQLite and PostgreSQL: closing freezes a month's report byte for byte, no
adjustment lands in a closed month, later corrections land in the open month linked to it."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.store.factories import uid

from ledgerlm.ledger.adjustments import Correction, RowState, RunInfo, write_adjustments
from ledgerlm.ledger.periods import PeriodClosedError, close_period, frozen_report, list_periods
from ledgerlm.ledger.reprice import RepriceScope, reprice
from ledgerlm.pricing import compile_price
from ledgerlm.store.price_book import load_book, record_prices

from .calls import USAGE, adjustments, at, call, ingest

PRICE_A = {"input_cost_per_token": "0.000001", "output_cost_per_token": "0.000002"}
PRICE_B = {"input_cost_per_token": "0.000003", "output_cost_per_token": "0.000005"}


async def test_closing_a_month_freezes_its_report_and_moves_later_corrections(engine: AsyncEngine) -> None:
    model, team = uid("m-"), uid("team-")
    price_a = compile_price("openai", model, custom=PRICE_A)
    price_b = compile_price("openai", model, custom=PRICE_B)
    await record_prices(engine, [price_b], now=at(2025, 10, 1, 0))
    stale = call(price_a, at(2025, 10, 20), team_id=team)  # priced with A while B was in force
    await ingest(engine, [stale])

    with pytest.raises(ValueError, match="has not ended"):
        await close_period(engine, "2025-10", actor="alice", now=at(2025, 10, 31))
    closed = await close_period(engine, "2025-10", actor="alice", note="books closed", now=at(2025, 11, 2))
    report = await frozen_report(engine, "2025-10")
    assert closed["checksum"] and '"period":"2025-10"' in report
    assert any(row["period"] == "2025-10" for row in await list_periods(engine))
    with pytest.raises(PeriodClosedError):
        await close_period(engine, "2025-10", actor="bob", now=at(2025, 11, 3))

    booked = at(2025, 11, 5)
    scope = RepriceScope(at(2025, 10, 1, 0), at(2025, 11, 1, 0), team=team)
    diff = await reprice(
        engine, scope, await load_book(engine), run=RunInfo(uid("run"), "alice", "late fix", booked)
    )
    assert diff.written == 1
    [adjustment] = await adjustments(engine, stale["request_id"])
    assert adjustment["period"] == "2025-11" and adjustment["corrects_period"] == "2025-10"
    assert adjustment["charge_time"] == booked and adjustment["original_time"] == at(2025, 10, 20)
    assert await frozen_report(engine, "2025-10") == report  # byte for byte, after the correction
    assert await frozen_report(engine, "2025-10") == report
    november = await frozen_report(engine, "2025-11")
    assert '"adjustments":1' in november


async def test_an_adjustment_cannot_land_in_a_closed_period(engine: AsyncEngine) -> None:
    model = uid("m-")
    price = compile_price("openai", model, custom=PRICE_A)
    row = call(price, at(2024, 5, 10))
    await ingest(engine, [row])
    await close_period(engine, "2024-05", actor="alice", now=at(2024, 7, 1))
    await close_period(engine, "2024-06", actor="alice", now=at(2024, 7, 1))
    cost = compile_price("openai", model, custom=PRICE_B).cost(USAGE)
    item = Correction(row["request_id"], at(2024, 5, 10), RowState(0, None, None), cost, {"model": model})
    run = RunInfo(uid("run"), "alice", "late", at(2024, 6, 30))  # booked in a closed month too
    with pytest.raises(PeriodClosedError):
        async with engine.begin() as conn:
            await write_adjustments(conn, [item], run)
    assert await adjustments(engine, row["request_id"]) == []
