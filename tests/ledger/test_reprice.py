"""Price book and audited re-pricing on SQLite and PostgreSQL: a custom price changed mid-month, a
catalog update, a back-fill of unpriced rows, dry run then apply, idempotence, and what reports and
budgets see afterwards (original + adjustments)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.store.factories import uid

from ledgerlm.ledger.adjustments import RunInfo, adjusted_spend
from ledgerlm.ledger.reprice import RepriceScope, reprice
from ledgerlm.pricing import compile_price
from ledgerlm.pricing.book import PriceEntry
from ledgerlm.store import teams
from ledgerlm.store.coltypes import to_decimal
from ledgerlm.store.price_book import insert_entry, load_book, price_history, record_prices
from ledgerlm.store.spend_queries import spend_report
from ledgerlm.store.tables import spend_logs

from .calls import USAGE, adjustments, at, call, ingest

PRICE_A = {"input_cost_per_token": "0.000001", "output_cost_per_token": "0.000002"}
PRICE_B = {"input_cost_per_token": "0.000003", "output_cost_per_token": "0.000005"}
NOVEMBER = RepriceScope(at(2026, 11, 1, 0), at(2026, 12, 1, 0))


def run(reason: str = "price fix") -> RunInfo:
    return RunInfo(uid("run"), "alice", reason, datetime.now(UTC))


async def test_custom_price_change_mid_month_opens_an_entry_and_reprices_the_stale_rows(
    engine: AsyncEngine,
) -> None:
    model, team = uid("m-"), uid("team-")
    await teams.create_team(engine, team, {})
    price_a = compile_price("openai", model, custom=PRICE_A)
    price_b = compile_price("openai", model, custom=PRICE_B)
    assert price_a.price_id != price_b.price_id
    assert len(await record_prices(engine, [price_a], now=at(2026, 11, 1, 0))) == 1
    assert await record_prices(engine, [price_a], now=at(2026, 11, 3)) == []  # a restart changes nothing
    await record_prices(engine, [price_b], now=at(2026, 11, 15, 0))
    history = await price_history(engine, f"openai/{model}")
    assert [e.price_id for e in history] == [price_a.price_id, price_b.price_id]
    assert history[0].effective_to == at(2026, 11, 15, 0) and history[1].effective_to is None
    assert history[1].prices["input_cost_per_token"] == Decimal("0.000003")
    assert [e.price_id for e in await price_history(engine, model)] == [price_a.price_id, price_b.price_id]

    early = call(price_a, at(2026, 11, 5), team_id=team)
    stale = call(price_a, at(2026, 11, 20), team_id=team)  # an instance still on price A
    await ingest(engine, [early, stale])
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(spend_logs.c.price_id).where(spend_logs.c.request_id == stale["request_id"])
            )
        ).scalar()
    assert stored == price_a.price_id

    scope = RepriceScope(NOVEMBER.start, NOVEMBER.end, team=team)
    book = await load_book(engine)
    dry = await reprice(engine, scope, book)
    cost_a = price_a.cost(USAGE).total
    cost_b = price_b.cost(USAGE).total
    assert cost_a is not None and cost_b is not None
    assert (dry.rows, dry.changed, dry.written) == (2, 1, 0)
    assert dry.before == 2 * cost_a and dry.after == cost_a + cost_b
    assert dry.by["team"][team] == [2 * cost_a, cost_a + cost_b]
    assert await adjustments(engine, early["request_id"], stale["request_id"]) == []  # dry run: nothing

    applied = await reprice(engine, scope, book, run=run("custom price B from the 15th"))
    assert (applied.changed, applied.written) == (1, 1)
    [adjustment] = await adjustments(engine, early["request_id"], stale["request_id"])
    assert adjustment["request_id"] == stale["request_id"]
    assert (adjustment["old_price_id"], adjustment["new_price_id"]) == (price_a.price_id, price_b.price_id)
    assert adjustment["delta"] == cost_b - cost_a and adjustment["new_spend"] == cost_b
    assert (adjustment["actor"], adjustment["reason"]) == ("alice", "custom price B from the 15th")
    assert adjustment["period"] == "2026-11" and adjustment["kind"] == "reprice"

    again = await reprice(engine, scope, book, run=run())
    assert (again.changed, again.written) == (0, 0)  # re-running the same re-price is a no-op
    assert len(await adjustments(engine, stale["request_id"])) == 1

    # reports, budgets and the ledger query see original + adjustments
    report = await spend_report(engine, "team", start=at(2026, 11, 1).date(), end=at(2026, 11, 30).date())
    assert next(r for r in report if r["group"] == team)["spend"] == cost_a + cost_b
    async with engine.connect() as conn:
        team_spend = (
            await conn.execute(sa.select(teams.teams.c.spend).where(teams.teams.c.team_id == team))
        ).scalar()
    assert team_spend == cost_a + cost_b
    [row] = [
        r
        for r in await adjusted_spend(engine, NOVEMBER.start, NOVEMBER.end, group_by="team_id")
        if r["group"] == team
    ]
    assert (row["original"], row["adjustments"], row["spend"]) == (
        2 * cost_a,
        cost_b - cost_a,
        cost_a + cost_b,
    )


async def test_a_catalog_update_reprices_rows_priced_with_the_old_catalog(engine: AsyncEngine) -> None:
    team = uid("team-")
    current = compile_price("openai", "gpt-4o-mini")
    assert current.source == "catalog" and current.price_id is not None
    old = PriceEntry("cat_0ld0ld0ld0ld0ld0", "openai/gpt-4o-mini", "catalog", at(2026, 11, 1, 0),
                     model_ref="openai/gpt-4o-mini", data_version="genai-prices 0.0.1")  # fmt: skip
    async with engine.begin() as conn:
        await insert_entry(conn, old, now=at(2026, 11, 1, 0))
    row = call(current, at(2026, 11, 3), team_id=team)
    right = to_decimal(row["spend"])
    row["spend"], row["price_id"] = format(right * 2, "f"), old.price_id  # the old catalog had it wrong
    await ingest(engine, [row])
    await record_prices(engine, [current], now=at(2026, 11, 10, 0))  # the catalog update is deployed
    history = await price_history(engine, "openai/gpt-4o-mini")
    assert [e.price_id for e in history][-2:] == [old.price_id, current.price_id]

    diff = await reprice(
        engine, RepriceScope(NOVEMBER.start, NOVEMBER.end, team=team), await load_book(engine), run=run()
    )
    assert diff.changed == 1 and diff.after == right
    [adjustment] = await adjustments(engine, row["request_id"])
    assert adjustment["old_price_id"] == old.price_id and adjustment["new_price_id"] == current.price_id
    assert adjustment["delta"] == -right and adjustment["new_spend"] == right


async def test_unpriced_rows_are_back_filled_when_a_price_becomes_known(engine: AsyncEngine) -> None:
    model, team = uid("unknown-model-"), uid("team-")
    unpriced = compile_price("openai", model)
    assert unpriced.price_id is None
    rows = [call(unpriced, at(2026, 11, 4), team_id=team, model_group=model) for _ in range(3)]
    assert all(r["spend"] is None and r["price_id"] is None for r in rows)
    await ingest(engine, rows)
    day = at(2026, 11, 4).date()
    before = next(r for r in await spend_report(engine, "model", start=day, end=day) if r["group"] == model)
    assert before["unpriced_requests"] == 3 and before["spend"] == 0

    priced = compile_price("openai", model, custom=PRICE_A)
    await record_prices(engine, [priced], now=at(2026, 11, 20, 0))  # priced only from the 20th
    scope = RepriceScope(NOVEMBER.start, NOVEMBER.end, team=team)
    diff = await reprice(engine, scope, await load_book(engine), run=run("back-fill"))
    cost = priced.cost(USAGE).total
    assert cost is not None
    assert (diff.changed, diff.backfilled, diff.unpriced_before, diff.unpriced_after) == (3, 3, 3, 0)
    found = await adjustments(engine, *(r["request_id"] for r in rows))
    assert {(a["kind"], a["old_spend"], a["new_spend"], a["old_price_id"]) for a in found} == {
        ("backfill", None, cost, None)
    }
    after = next(r for r in await spend_report(engine, "model", start=day, end=day) if r["group"] == model)
    assert after["unpriced_requests"] == 0 and after["spend"] == 3 * cost and after["api_requests"] == 3
    assert (await reprice(engine, scope, await load_book(engine), run=run())).changed == 0


async def test_a_price_file_replaces_the_book_for_its_models(engine: AsyncEngine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ledgerlm.pricing.book_file import load_price_file

    model, team = uid("m-"), uid("team-")
    price_a = compile_price("openai", model, custom=PRICE_A)
    await record_prices(engine, [price_a], now=at(2026, 11, 1, 0))
    rows = [call(price_a, at(2026, 11, day), team_id=team) for day in (2, 12, 22)]
    await ingest(engine, rows)
    path = tmp_path / "prices.yaml"
    path.write_text(
        f"prices:\n  - model: openai/{model}\n    effective_from: 2026-11-10\n"
        "    input_cost_per_token: 3e-6\n    output_cost_per_token: 5e-6\n"
    )
    book = (await load_book(engine)).overlay(load_price_file(path))
    diff = await reprice(engine, RepriceScope(NOVEMBER.start, NOVEMBER.end, model=model), book)
    assert diff.changed == 2  # the 12th and the 22nd; nothing prices the 2nd in the file: unchanged
    cost_b = compile_price("openai", model, custom=PRICE_B).cost(USAGE).total
    cost_a = price_a.cost(USAGE).total
    assert cost_a is not None and cost_b is not None
    assert diff.after == cost_a + 2 * cost_b


async def test_response_cache_hits_are_never_repriced(engine: AsyncEngine) -> None:
    model, team = uid("m-"), uid("team-")
    price_a = compile_price("openai", model, custom=PRICE_A)
    await record_prices(engine, [compile_price("openai", model, custom=PRICE_B)], now=at(2026, 11, 1, 0))
    hit = call(price_a, at(2026, 11, 6), team_id=team, cache_hit=True)
    hit["spend"] = "0"  # a response-cache hit costs nothing, whatever its usage
    await ingest(engine, [hit, call(price_a, at(2026, 11, 6), team_id=team)])
    diff = await reprice(
        engine, RepriceScope(NOVEMBER.start, NOVEMBER.end, team=team), await load_book(engine)
    )
    assert (diff.rows, diff.changed) == (1, 1)
