"""Issue 14, hole 4: a silent database partition (packets dropped, no reset) never freezes requests.

Before: the budget-limits lookup on the request path had no deadline, so calls waited for the
kernel's TCP timeouts (p50 24 s, max 48 s measured). Now every request-path I/O has one
(``budget_settings.io_timeout_s``) and ``budget_settings.on_io_timeout`` chooses what passes it:

* limits already known (cached) -> the call goes on with them (200);
* limits never seen (a new end user) -> ``fail_closed`` (default): 503 ``budgets_unavailable``;
  ``fail_open``: admitted without a reservation (200).

Real proxies (in-process uvicorn) on a throw-away PostgreSQL database reached through a
``TcpForwarder`` that black-holes the traffic; the official ``openai`` client with a 15 s timeout and no
retries (a call that hangs past it fails the test; latency itself is measured by
``benchmarks/partition.py``, never asserted).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import sqlalchemy as sa
from tests.e2e.conftest import Proxy
from tests.helpers.tcp_forwarder import TcpForwarder, route_url_through

MESSAGES = [{"role": "user", "content": "hi"}]
SETTINGS = {"io_timeout_s": 1.0, "limits_cache_ttl_s": 0.2}


@pytest.fixture(scope="module")
def forwarder(pg_database: str) -> Iterator[TcpForwarder]:
    hole = TcpForwarder("127.0.0.1", int(sa.make_url(pg_database).port or 5432))
    yield hole
    hole.heal()
    hole.close()


@pytest.fixture(scope="module")
def proxies(pg_database: str, forwarder: TcpForwarder, proxy_factory: Any) -> dict[str, Proxy]:
    url = route_url_through(pg_database, forwarder)
    return {
        mode: proxy_factory(url, budget_settings={**SETTINGS, "on_io_timeout": mode})
        for mode in ("fail_closed", "fail_open")
    }


def _call(proxy: Proxy, key: str, user: str | None = None) -> tuple[int, str]:
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=key, timeout=15.0, max_retries=0)
    extra = {"user": user} if user else {}
    try:
        client.chat.completions.create(model="priced", messages=MESSAGES, max_tokens=5, **extra)  # type: ignore[arg-type]
    except openai.APIStatusError as err:
        return err.status_code, str(err.response.json()["error"].get("code"))
    finally:
        client.close()
    return 200, ""


def test_partition_answers_within_the_deadline(forwarder: TcpForwarder, proxies: dict[str, Proxy]) -> None:
    keys = {mode: proxy.new_key(max_budget="10") for mode, proxy in proxies.items()}
    for mode, proxy in proxies.items():
        assert _call(proxy, keys[mode]) == (200, "")  # key and limits now known
    forwarder.blackhole()
    try:
        time.sleep(0.3)  # past limits_cache_ttl_s: the next lookup goes to the (silent) database
        for mode, proxy in proxies.items():
            assert _call(proxy, keys[mode]) == (200, ""), mode  # last known limits keep serving
        assert _call(proxies["fail_closed"], keys["fail_closed"], user="new-end-user") == (
            503,
            "budgets_unavailable",
        )
        assert _call(proxies["fail_open"], keys["fail_open"], user="new-end-user") == (200, "")
    finally:
        forwarder.heal()
    # healed: after the short breaker window (5 deadlines; calls did not wait in it) new limits load
    deadline = time.monotonic() + 20
    while _call(proxies["fail_closed"], keys["fail_closed"], user="new-end-user") != (200, ""):
        assert time.monotonic() < deadline, "never served again after the partition healed"
        time.sleep(0.5)
