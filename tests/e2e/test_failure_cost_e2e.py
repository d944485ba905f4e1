"""A failed call that consumed no tokens cost exactly $0 (spend 0, not "unpriced"); a failed call that
consumed tokens of a model without a price stays unpriced with its reason. Real proxy, simulator
upstream, official ``openai`` client; SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import openai
import pytest
from tests.e2e.conftest import Proxy

MESSAGES: Any = [{"role": "user", "content": "this will fail"}]


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_failures_without_usage_cost_zero(proxy: Proxy) -> None:
    key = proxy.new_key(key_alias="fail-zero")
    client = proxy.client(key)
    with pytest.raises(openai.InternalServerError):  # upstream 500, no usage
        client.chat.completions.create(model="broken", messages=MESSAGES)
    with pytest.raises(openai.InternalServerError):
        list(client.chat.completions.create(model="broken", messages=MESSAGES, stream=True))
    with pytest.raises(openai.NotFoundError):  # unknown model: no price either, still $0
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="unpriced", messages=[])
    proxy.wait_written()
    rows = proxy.rows(api_key=_sha(key))
    assert len(rows) == 4 and {r["status"] for r in rows} == {"failure"}
    for row in rows:
        assert row["spend"] == Decimal(0), row["model_group"]
        cost = row["metadata"]["cost"]
        assert Decimal(cost["total"]) == 0 and not cost.get("breakdown") and "unpriced_reason" not in cost
    (entry,) = proxy.ok("GET", "/global/spend/report/v2?group_by=api_key", key=key)["data"]
    assert entry["group"] == _sha(key) and entry["unpriced_requests"] == 0, entry
    assert entry["failed_requests"] == 4 and Decimal(str(entry["spend"])) == 0


def test_failure_with_usage_of_an_unpriced_model_stays_unpriced(proxy: Proxy) -> None:
    key = proxy.new_key(key_alias="fail-unpriced")
    with pytest.raises(openai.APIError):  # the upstream stream breaks after 2 chunks
        list(proxy.client(key).chat.completions.create(model="breaking", messages=MESSAGES, stream=True))
    proxy.wait_written()
    (row,) = proxy.rows(api_key=_sha(key))
    assert row["status"] == "failure" and row["prompt_tokens"] > 0
    assert row["spend"] is None and row["metadata"]["cost"]["unpriced_reason"]
