"""A client that reuses ``x-request-id`` still pays for every call: five calls with the same id through
the official ``openai`` client are five spend rows, and the key's spend is five times one call. Another
key sending the same id gets its own charged row (no free call). SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from tests.e2e.conftest import Proxy, sync_url

from ledgerlm.store import tables

MESSAGES: Any = [{"role": "user", "content": "same id every time"}]


def _rows_of(proxy: Proxy, request_id: str) -> list[dict[str, Any]]:
    table = tables.spend_logs
    query = sa.select(table).where(
        sa.or_(table.c.request_id == request_id, table.c.request_id.like(f"{request_id}~%"))
    )
    engine = sa.create_engine(sync_url(proxy.database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
    finally:
        engine.dispose()


def _key_spend(proxy: Proxy, key: str) -> Decimal:
    info = proxy.ok("GET", f"/key/info?key={key}")
    return Decimal(str(info["info"]["spend"]))


def test_reused_request_id_is_charged_per_call(proxy: Proxy) -> None:
    key, other = proxy.new_key(key_alias="reuse-1"), proxy.new_key(key_alias="reuse-2")
    request_id = f"same-id-{uuid.uuid4().hex[:8]}"
    headers = {"x-request-id": request_id}
    costs = []
    for _ in range(5):
        raw = proxy.client(key).chat.completions.with_raw_response.create(
            model="priced", messages=MESSAGES, extra_headers=headers
        )
        assert raw.http_response.status_code == 200
        assert raw.headers["x-request-id"] == request_id
        costs.append(Decimal(raw.headers["x-litellm-response-cost"]))
    proxy.client(other).chat.completions.create(model="priced", messages=MESSAGES, extra_headers=headers)
    proxy.wait_written()
    rows = _rows_of(proxy, request_id)
    assert len(rows) == 6
    mine = [r for r in rows if r["api_key"] == hashlib.sha256(key.encode()).hexdigest()]
    assert len(mine) == 5 and len({r["call_uid"] for r in rows}) == 6
    assert sum((r["spend"] for r in mine), Decimal(0)) == sum(costs) == costs[0] * 5
    assert _key_spend(proxy, key) == costs[0] * 5
    assert _key_spend(proxy, other) == costs[0]
    assert [r["request_id"] for r in rows].count(request_id) == 1  # the first use keeps the client's id
    renamed = [r for r in rows if r["request_id"] != request_id]
    assert all(r["metadata"]["client_request_id"] == request_id for r in renamed)
