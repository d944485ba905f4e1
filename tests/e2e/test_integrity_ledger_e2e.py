"""Issue 14, holes 2 and 3: no client header or upstream value can make a spend row unstorable or stall
the spend writer. Real proxy, the official ``openai`` client, the simulator, SQLite and PostgreSQL.

* Hole 2: a 500-character ``X-Forwarded-For`` overflowed ``requester_ip_address`` (VARCHAR(64)) on
  PostgreSQL: the row went to ``rejected.jsonl`` and the key's spend stayed 0. Now the value is cut with
  a marker, the row is written, flagged, and the key is charged.
* Hole 3: an upstream reporting 2^63 output tokens (cost beyond the column) made the writer retry the
  batch forever: no later row was written. Now the counts are clamped, the row is written and flagged
  (``metadata.anomalies``, shown by ``/spend/logs``), the next call's row is written, readiness stays 200.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from tests.e2e.conftest import MASTER_KEY, SIM_KEY, Proxy, sync_url

from ledgerlm.simulator import Simulator
from ledgerlm.store import tables
from ledgerlm.store.bounds import MAX_SPEND, MAX_TOKENS, TRUNCATION_MARKER

OUTPUT_PRICE = Decimal("0.00001")
MESSAGES = [{"role": "user", "content": "hi"}]
LEAKED_KEY = "sk-proj-" + "A1b2C3d4" * 6  # an upstream error quoting a key back


def _models(sim_url: str) -> list[dict[str, Any]]:
    priced = {"input_cost_per_token": "0", "output_cost_per_token": str(OUTPUT_PRICE)}
    base = {"api_base": f"{sim_url}/v1", "api_key": SIM_KEY, **priced}
    return [
        {"model_name": "fine", "litellm_params": {"model": "openai/sim-fine", **base}},
        {"model_name": "poison", "litellm_params": {"model": "openai/sim-poison", **base}},
        {"model_name": "leaky", "litellm_params": {"model": "openai/sim-leaky", **base}},
    ]


@pytest.fixture(scope="module")
def proxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    simulator.models["sim-fine"] = {"completion_tokens": 10}
    simulator.models["sim-poison"] = {"completion_tokens": 2**63}
    leak = {"error": {"message": f"bad request; you sent key {LEAKED_KEY}", "type": "invalid_request_error"}}
    simulator.models["sim-leaky"] = {"error_status": 400, "error_body": leak}
    started: Proxy = proxy_factory(database_url, model_list=_models(simulator.url))
    return started


def _call(proxy: Proxy, key: str, model: str, headers: dict[str, str] | None = None) -> str:
    client = proxy.client(key)
    try:
        raw = client.chat.completions.with_raw_response.create(
            model=model,
            messages=MESSAGES,  # type: ignore[arg-type]
            max_tokens=10,
            extra_headers=headers or {},
        )
    finally:
        client.close()
    assert raw.status_code == 200
    return str(raw.headers["x-request-id"])


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_long_forwarded_for_is_cut_and_the_call_still_charged(proxy: Proxy) -> None:
    key = proxy.new_key(max_budget="1", key_alias="xff")
    forwarded = "203.0.113." + "9" * 500 + ", 10.0.0.1"
    request_id = _call(proxy, key, "fine", {"X-Forwarded-For": forwarded})
    proxy.wait_written()
    row = proxy.row(request_id)
    assert row["spend"] == OUTPUT_PRICE * 10
    ip = row["requester_ip_address"]
    assert len(ip) == 64 and ip.endswith(TRUNCATION_MARKER) and ip.startswith("203.0.113.999")
    assert [a["field"] for a in row["metadata"]["anomalies"]] == ["requester_ip_address"]
    info = proxy.ok("GET", f"/key/info?key={key}")
    assert Decimal(str(info["info"]["spend"])) == OUTPUT_PRICE * 10  # the key is charged


def test_poisoned_usage_is_clamped_flagged_and_later_rows_written(proxy: Proxy) -> None:
    key = proxy.new_key(key_alias="poison-" + uuid.uuid4().hex[:6], max_budget="1")
    poisoned = _call(proxy, key, "poison")
    other = proxy.new_key(key_alias="other-" + uuid.uuid4().hex[:6])
    after = _call(proxy, other, "fine")
    proxy.wait_written()
    row = proxy.row(poisoned)
    assert row["completion_tokens"] == MAX_TOKENS and row["total_tokens"] == MAX_TOKENS
    assert row["spend"] == MAX_SPEND
    fields = {a["field"] for a in row["metadata"]["anomalies"]}
    assert {"completion_tokens", "total_tokens", "spend"} <= fields
    assert proxy.row(after)["spend"] == OUTPUT_PRICE * 10  # the ledger goes on
    info = proxy.ok("GET", f"/key/info?key={key}")
    assert Decimal(str(info["info"]["spend"])) == MAX_SPEND  # charged the clamped amount
    listed = proxy.ok("GET", f"/spend/logs?api_key={_sha(key)}")  # LiteLLM's shape: a list of rows
    shown = next(r for r in listed if r["request_id"] == poisoned)
    assert {"completion_tokens", "spend"} <= {a["field"] for a in shown["metadata"]["anomalies"]}
    status, ready, _ = proxy.request("GET", "/health/readiness")
    assert status == 200, ready
    writer = proxy.app.state.proxy.store.writer
    assert writer.rows_flagged >= 1 and writer.rows_rejected == 0
    assert MASTER_KEY


def test_readiness_reports_a_writer_behind(
    proxy_factory: Any, database_url: str, simulator: Simulator
) -> None:
    """The database answers ``SELECT 1`` but spend writes cannot go through (the table is locked by
    another session): readiness turns 503 naming the writer, and 200 again once the rows are written."""
    lagging: Proxy = proxy_factory(
        database_url, model_list=_models(simulator.url), general_settings={"spend_writer_max_lag_s": 0.5}
    )
    key = lagging.new_key(key_alias="lag-" + uuid.uuid4().hex[:6])
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        if database_url.startswith("postgresql"):
            conn.exec_driver_sql("LOCK TABLE spend_logs IN EXCLUSIVE MODE")  # reads go on, writes wait
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite: one writer at a time
        request_id = _call(lagging, key, "fine")
        deadline = time.monotonic() + 20
        status, ready = 200, {}
        while status == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            status, ready, _ = lagging.request("GET", "/health/readiness")
        assert status == 503 and ready["spend_writer"].startswith("unhealthy: spend writer behind"), ready
        assert ready["db"] == "connected"
        conn.rollback()
    engine.dispose()
    lagging.wait_written()
    assert lagging.row(request_id)["spend"] == OUTPUT_PRICE * 10
    status, ready, _ = lagging.request("GET", "/health/readiness")
    assert status == 200, ready


def test_request_refused_with_400_leaves_no_tag_rows(proxy: Proxy) -> None:
    key = proxy.new_key(key_alias="tags-" + uuid.uuid4().hex[:6])
    tags = [f"t{i}" for i in range(10_000)]
    status, body, headers = proxy.request(
        "POST", "/v1/chat/completions", {"model": "fine", "messages": MESSAGES, "tags": tags}, key=key
    )
    assert status == 400 and "too many tags" in body["error"]["message"]
    proxy.wait_written()
    request_id = headers["x-request-id"]
    row = proxy.row(request_id)  # the failure row exists (one row per call) ...
    assert row["status"] == "failure" and row["request_tags"] == []
    with proxy._db.connect() as conn:  # ... and no tag row
        query = sa.select(sa.func.count()).select_from(tables.spend_log_tags)
        assert conn.execute(query.where(tables.spend_log_tags.c.request_id == request_id)).scalar_one() == 0


def test_upstream_error_text_is_scrubbed_before_spend_logs(proxy: Proxy) -> None:
    key = proxy.new_key(key_alias="leak-" + uuid.uuid4().hex[:6])
    status, _, headers = proxy.request(
        "POST", "/v1/chat/completions", {"model": "leaky", "messages": MESSAGES}, key=key
    )
    assert status == 400
    proxy.wait_written()
    row = proxy.row(headers["x-request-id"])
    assert row["status"] == "failure"
    assert LEAKED_KEY not in str(row["metadata"]) and "[REDACTED]" in row["metadata"]["error"]["message"]
