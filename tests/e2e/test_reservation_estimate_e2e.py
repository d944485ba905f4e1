"""``general_settings.budget_reservation_estimate`` through the real proxy: a key whose budget ($0.001)
is below one request's worst case (``gpt-4o-mini`` without ``max_tokens``: 16,384 output tokens at the
catalog price, about $0.0098) is refused on its first call under ``worst_case`` (LiteLLM's 422
``budget_exceeded``) and admitted under ``expected`` (512 output tokens held before the model's first
call, then the p95 of recent output sizes) and ``none`` (nothing held: LiteLLM's ``spend < max_budget``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.mark.parametrize(
    ("estimate", "status"), [("worst_case", 422), ("expected", 200), ("none", 200), (None, 422)]
)
def test_first_call_under_a_small_budget(
    proxy_factory: Any, tmp_path: Path, estimate: str | None, status: int
) -> None:
    general = {} if estimate is None else {"budget_reservation_estimate": estimate}
    proxy = proxy_factory(f"sqlite:///{tmp_path}/db.sqlite", general_settings=general)
    key = proxy.new_key(max_budget=0.001)
    body = {"model": "gpt-4o-mini", "messages": MESSAGES}
    got, data, _ = proxy.request("POST", "/v1/chat/completions", body, key=key)
    assert got == status, data
    if status == 422:
        assert data["error"]["type"] == "budget_exceeded" and data["error"]["code"] == "422"
        assert data["error"]["message"].startswith("Budget has been exceeded!")
        return
    assert isinstance(data["usage"]["completion_tokens"], int)
    proxy.wait_written()
    info = proxy.ok("GET", f"/key/info?key={key}")["info"]
    assert 0 < info["spend"] < 0.001 and isinstance(info["spend"], float)
