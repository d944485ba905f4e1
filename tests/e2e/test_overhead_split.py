"""``x-ledgerlm-overhead-split`` (issue 22): the proxy's own time per lifecycle stage, on request.

Real proxy (uvicorn in a thread) on SQLite and PostgreSQL, the official openai client, the simulator
upstream. Off by default; ``LEDGERLM_OVERHEAD_SPLIT=1`` turns it on when the proxy starts.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.conftest import Proxy

MESSAGES = [{"role": "user", "content": "hello there"}]
STAGES = ["auth", "body", "route", "hooks", "admission", "engine", "respond"]


def _split(header: str) -> dict[str, float]:
    return {name: float(ms) for name, ms in (part.split("=") for part in header.split(";"))}


def test_split_is_off_by_default(proxy: Proxy) -> None:
    raw = proxy.client().chat.completions.with_raw_response.create(model="priced", messages=MESSAGES)
    assert "x-ledgerlm-overhead-split" not in raw.headers
    assert float(raw.headers["x-ledgerlm-overhead-ms"]) >= 0


def test_split_names_every_stage(
    proxy_factory: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGERLM_OVERHEAD_SPLIT", "1")
    on = proxy_factory(database_url)
    key = on.new_key(max_budget=10, rpm_limit=1000)
    raw = on.client(key).chat.completions.with_raw_response.create(model="priced", messages=MESSAGES)
    split = _split(raw.headers["x-ledgerlm-overhead-split"])
    assert list(split) == STAGES
    assert all(ms >= 0 for ms in split.values())
    total_ms = sum(split.values())
    # the stages cover the request from arrival to the headers: the upstream call and the overhead
    assert total_ms >= float(raw.headers["x-ledgerlm-overhead-ms"])
    stream = on.client(key).chat.completions.with_raw_response.create(
        model="priced", messages=MESSAGES, stream=True
    )
    assert list(_split(stream.headers["x-ledgerlm-overhead-split"]))[:5] == STAGES[:5]
    for _ in stream.parse():
        pass
