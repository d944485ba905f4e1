"""The price book, re-pricing, period close and FOCUS export on the real proxy (SQLite and
PostgreSQL, the simulator upstream, the official openai client).

* at start-up the proxy records every deployment's price in the price book; each spend row carries the
  ``price_id`` it was priced with (the same id as the book's entry);
* ``POST /period/close`` (master key) freezes a month: 200, then 409 ``period_closed`` the second time,
  400 for a malformed month or one not over; ``GET /period/list`` lists it; a virtual key gets 403;
* a FOCUS export of the proxy's ledger sums to the spend the proxy recorded.
"""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from tests.e2e.conftest import Proxy

from ledgerlm.ledger.focus_export import ExportScope, focus_batches
from ledgerlm.ledger.focus_io import write_focus
from ledgerlm.pricing import compile_price
from ledgerlm.store.engine import create_engine
from ledgerlm.store.tables import price_book

MESSAGES: Any = [{"role": "user", "content": "price this"}]


@pytest.fixture(scope="module")
def calls(proxy: Proxy) -> list[dict[str, Any]]:
    client = proxy.client()
    for _ in range(3):
        client.chat.completions.create(model="priced", messages=MESSAGES)
    client.chat.completions.create(model="unpriced", messages=MESSAGES)
    proxy.wait_written()
    return proxy.rows()


def test_rows_carry_the_price_id_of_the_price_book_entry(proxy: Proxy, calls: list[dict[str, Any]]) -> None:
    with proxy._db.connect() as conn:
        open_entries = sa.select(price_book).where(price_book.c.effective_to.is_(None))
        book = {row.model: row.price_id for row in conn.execute(open_entries)}
    priced = [row for row in calls if row["model_group"] == "priced"]
    assert priced and {row["price_id"] for row in priced} == {book["openai/sim-priced"]}
    custom = {"input_cost_per_token": "0.000001", "output_cost_per_token": "0.000002"}
    assert book["openai/sim-priced"] == compile_price("openai", "sim-priced", custom=custom).price_id
    assert book["openai/gpt-4o-mini"] == compile_price("openai", "gpt-4o-mini").price_id
    unpriced = [row for row in calls if row["model_group"] == "unpriced"]
    assert unpriced and all(row["price_id"] is None and row["spend"] is None for row in unpriced)


def test_period_close_and_list_routes(proxy: Proxy) -> None:
    closed = proxy.ok("POST", "/period/close", {"period": "2020-01", "note": "first close"})
    assert closed["period"] == "2020-01" and closed["status"] == "closed" and len(closed["checksum"]) == 64
    status, body, _ = proxy.request("POST", "/period/close", {"period": "2020-01"})
    assert status == 409 and body["error"]["code"] == "period_closed"
    for bad in ({"period": "2020-13"}, {"period": "2999-01"}, {}, {"period": "2020-02", "note": 5}):
        status, body, _ = proxy.request("POST", "/period/close", bad)
        assert status == 400 and body["error"]["type"] == "invalid_request_error", (bad, body)
    listed = proxy.ok("GET", "/period/list")["data"]
    assert [row["period"] for row in listed if row["period"] == "2020-01"] == ["2020-01"]
    key = proxy.new_key(key_alias="not-admin")
    assert proxy.request("POST", "/period/close", {"period": "2020-02"}, key=key)[0] == 403
    assert proxy.request("GET", "/period/list", key=key)[0] == 403


def test_a_focus_export_of_the_proxy_ledger_sums_to_its_spend(
    proxy: Proxy, calls: list[dict[str, Any]]
) -> None:
    times = [row["startTime"] for row in calls]
    scope = ExportScope(min(times), max(times) + timedelta(seconds=1))

    async def export() -> tuple[int, Decimal]:
        engine = create_engine(proxy.database_url)
        try:
            return await write_focus(focus_batches(engine, scope), "csv", io.StringIO())
        finally:
            await engine.dispose()

    rows, total = asyncio.run(export())
    assert rows >= len(calls)
    assert total == sum((row["spend"] for row in calls if row["spend"] is not None), Decimal(0))
