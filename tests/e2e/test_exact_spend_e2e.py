"""Stored spend equals the response header to the last digit (issue 14), with the official openai client.

The deployment's per-token prices have 16 and 22 decimal places (genai-prices has per-million-token
prices such as 0.041666666666666664, i.e. 24 places per token), so the call's cost has more than 10.
On PostgreSQL (unconstrained ``NUMERIC``) the ``spend_logs`` row, the key's total and the daily rollup
equal ``x-litellm-response-cost`` exactly, and ``/spend/logs`` returns it as a JSON number with the
same digits. SQLite stores 64-bit integers of 1e-10 USD (its documented limit): there the row equals
the header rounded half-even to 1e-10.
"""

from __future__ import annotations

import hashlib
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from tests.e2e.conftest import SIM_KEY, Proxy, sync_url

from ledgerlm.simulator import Simulator
from ledgerlm.store import rollup_deltas, tables

INPUT_PRICE = "0.0000001500000000000001"  # 22 decimal places
OUTPUT_PRICE = "0.0000000416666666666667"


@pytest.fixture(scope="module")
def proxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    simulator.models["sim-exact"] = {"completion_tokens": 7}
    prices = {"input_cost_per_token": INPUT_PRICE, "output_cost_per_token": OUTPUT_PRICE}
    base = {"api_base": f"{simulator.url}/v1", "api_key": SIM_KEY, **prices}
    models = [{"model_name": "exact", "litellm_params": {"model": "openai/sim-exact", **base}}]
    started: Proxy = proxy_factory(database_url, model_list=models)
    return started


def _key_spend(proxy: Proxy, key_hash: str) -> Decimal:
    engine = sa.create_engine(sync_url(proxy.database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            table = tables.verification_tokens
            spend = conn.execute(sa.select(table.c.spend).where(table.c.token == key_hash)).scalar_one()
            daily = rollup_deltas.readable(tables.daily_key_spend)  # folded or still pending
            rollup = conn.execute(sa.select(sa.func.sum(daily.c.spend)).where(daily.c.api_key == key_hash))
            assert rollup.scalar_one() == spend
    finally:
        engine.dispose()
    return Decimal(spend)


def test_stored_spend_equals_the_header_to_the_last_digit(proxy: Proxy) -> None:
    key = proxy.new_key(key_alias="exact")
    key_hash = hashlib.sha256(key.encode()).hexdigest()
    client = proxy.client(key)
    raw = client.chat.completions.with_raw_response.create(
        model="exact",
        messages=[{"role": "user", "content": "how much, exactly?"}],
        max_tokens=7,
    )
    header = raw.headers["x-litellm-response-cost"]
    cost = Decimal(header)
    assert -cost.as_tuple().exponent > 10, header  # the case: more than 10 decimal places
    proxy.wait_written()
    request_id = raw.headers["x-request-id"]
    stored = proxy.row(request_id)["spend"]
    postgres = proxy.database_url.startswith("postgresql")
    expected = cost if postgres else cost.quantize(Decimal("1e-10"), rounding=ROUND_HALF_EVEN)
    assert stored == expected
    assert _key_spend(proxy, key_hash) == expected
    # the spend API: a JSON number with the exact digits (not a string, not a float round-off)
    status, _, _ = proxy.request("GET", f"/spend/logs?request_id={request_id}")
    assert status == 200
    text = _raw_body(proxy, f"/spend/logs?request_id={request_id}")
    digits = format(expected.normalize(), "f")
    assert re.search(rf'"spend":\s*{re.escape(digits)}[,}}]', text), text[:400]


def _raw_body(proxy: Proxy, path: str) -> str:
    import urllib.request

    from tests.e2e.conftest import MASTER_KEY

    request = urllib.request.Request(proxy.url + path, headers={"Authorization": f"Bearer {MASTER_KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.read().decode())
