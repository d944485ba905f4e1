"""Upstream faults through the simulator's knobs (real HTTP, the real proxy, the official openai client,
the machine's PostgreSQL): 429 with ``Retry-After``, 500, 529, connection refused, a stream that breaks or
stalls mid-way, a first byte slower than the timeout. For each: the client gets the right error, or the
retried success, and the call has exactly ONE spend row with the right status, the usage seen and its cost
(priced per token, so the expected cost is computed from the row's own token counts)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest
from tests.e2e.conftest import MASTER_KEY, SIM_KEY, Proxy
from tests.helpers.net import free_port, openai_client

from ledgerlm.simulator import Simulator

IN_PRICE, OUT_PRICE = Decimal("0.000001"), Decimal("0.000002")
MESSAGES: Any = [{"role": "user", "content": "upstream faults"}]
TIMEOUT_S = 1.0

# simulator model -> knobs (unique names: the simulator is shared with the e2e suite)
KNOBS: dict[str, dict[str, Any]] = {
    "rel-ok": {"completion_tokens": 9},
    "rel-429": {"error_status": 429, "retry_after": 1},
    "rel-500": {"error_status": 500},
    "rel-529": {"error_status": 529},
    "rel-break": {"break_after_chunks": 3, "completion_tokens": 20},
    "rel-stall": {"stall_after_chunks": 3, "completion_tokens": 20},
    "rel-slow": {"latency_ms": 3000},
}
RUN = uuid.uuid4().hex[:8]  # fail_times counters live in the shared simulator: one key per run
for _status in (429, 500, 529):
    KNOBS[f"rel-flaky-{_status}"] = {
        "error_status": _status,
        "retry_after": 0,
        "fail_times": 1,
        "fail_key": f"rel-flaky-{_status}-{RUN}",
        "completion_tokens": 9,
    }


def _deployment(name: str, sim_model: str, api_base: str, **params: Any) -> dict[str, Any]:
    price = {"input_cost_per_token": str(IN_PRICE), "output_cost_per_token": str(OUT_PRICE)}
    litellm = {"model": f"openai/{sim_model}", "api_base": api_base, "api_key": SIM_KEY, **price, **params}
    return {"model_name": name, "litellm_params": litellm}


@pytest.fixture(scope="module")
def proxy(pg_database: str, proxy_factory: Any, simulator: Simulator) -> Proxy:
    simulator.models.update({k: dict(v) for k, v in KNOBS.items()})
    base = f"{simulator.url}/v1"
    models = [_deployment(n, n, base) for n in KNOBS]
    models += [
        *(_deployment(f"rel-retried-{s}", f"rel-flaky-{s}", base, max_retries=2) for s in (429, 500, 529)),
        _deployment("rel-refused", "rel-ok", f"http://127.0.0.1:{free_port()}/v1"),
        _deployment("rel-stall-timeout", "rel-stall", base, timeout=TIMEOUT_S, stream_timeout=TIMEOUT_S),
        _deployment("rel-slow-timeout", "rel-slow", base, timeout=TIMEOUT_S),
        {
            "model_name": "rel-claude-529",
            "litellm_params": {"model": "anthropic/rel-529", "api_base": simulator.url, "api_key": SIM_KEY},
        },
    ]
    proxy: Proxy = proxy_factory(pg_database, model_list=models)
    return proxy


def _rid() -> str:
    return f"fault-{uuid.uuid4().hex}"


def _one_row(proxy: Proxy, rid: str) -> dict[str, Any]:
    proxy.wait_written()
    rows = proxy.rows(request_id=rid)
    assert len(rows) == 1, f"{len(rows)} spend rows for {rid}"
    return rows[0]


def _metadata(row: dict[str, Any]) -> dict[str, Any]:
    meta = row["metadata"]
    return json.loads(meta) if isinstance(meta, str) else dict(meta or {})


def _assert_cost_matches_usage(row: dict[str, Any]) -> None:
    expected = IN_PRICE * row["prompt_tokens"] + OUT_PRICE * row["completion_tokens"]
    assert row["spend"] is not None and Decimal(str(row["spend"])) == expected, row


def _failure_row(proxy: Proxy, rid: str, status: int) -> dict[str, Any]:
    row = _one_row(proxy, rid)
    assert row["status"] == "failure", row
    assert _metadata(row)["error"]["status"] == status, _metadata(row)
    return row


def _headers(rid: str) -> dict[str, str]:
    return {"x-request-id": rid}


@pytest.fixture
def client(proxy: Proxy) -> Any:
    with openai_client(proxy.url, MASTER_KEY, timeout_s=15) as c:
        yield c


def test_429_reaches_the_client_with_retry_after(proxy: Proxy, client: openai.OpenAI) -> None:
    rid = _rid()
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="rel-429", messages=MESSAGES, extra_headers=_headers(rid))
    assert info.value.response.headers.get("retry-after") == "1"
    assert info.value.response.headers["x-request-id"] == rid
    row = _failure_row(proxy, rid, 429)
    assert row["spend"] in (None, 0) and row["completion_tokens"] == 0


@pytest.mark.parametrize(("status", "model"), [(500, "rel-500"), (529, "rel-529")])
def test_5xx_is_an_error_and_one_failure_row(
    proxy: Proxy, client: openai.OpenAI, status: int, model: str
) -> None:
    rid = _rid()
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=model, messages=MESSAGES, extra_headers=_headers(rid))
    assert info.value.status_code >= 500
    assert info.value.body is not None and "message" in json.dumps(info.value.body)
    _failure_row(proxy, rid, status)


@pytest.mark.parametrize("status", [429, 500, 529])
def test_transient_error_then_retried_success_is_one_success_row(
    proxy: Proxy, client: openai.OpenAI, simulator: Simulator, status: int
) -> None:
    rid = _rid()
    raw = client.chat.completions.with_raw_response.create(
        model=f"rel-retried-{status}", messages=MESSAGES, extra_headers=_headers(rid)
    )
    assert raw.parse().choices[0].message.content
    attempts = [r for r in simulator.requests if (r.json or {}).get("model") == f"rel-flaky-{status}"]
    assert len(attempts) == 2, "one failed attempt upstream, then the retried success"
    row = _one_row(proxy, rid)
    assert row["status"] == "success" and row["completion_tokens"] == 9
    _assert_cost_matches_usage(row)
    assert Decimal(raw.headers["x-litellm-response-cost"]) == Decimal(str(row["spend"]))
    assert _metadata(row).get("retries") == 1


def test_connection_refused_is_a_502_and_one_failure_row(proxy: Proxy, client: openai.OpenAI) -> None:
    rid = _rid()
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="rel-refused", messages=MESSAGES, extra_headers=_headers(rid))
    assert info.value.status_code == 502
    row = _one_row(proxy, rid)
    assert row["status"] == "failure" and row["completion_tokens"] == 0


def test_stream_broken_mid_way_keeps_the_usage_seen(proxy: Proxy, client: openai.OpenAI) -> None:
    rid = _rid()
    received: list[str] = []
    with pytest.raises(openai.APIError):
        stream: Any = client.chat.completions.create(
            model="rel-break", messages=MESSAGES, stream=True, extra_headers=_headers(rid)
        )
        for chunk in stream:
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert received, "the chunks before the break reached the client"
    row = _failure_row_any_status(proxy, rid)
    assert 0 < row["completion_tokens"] < 20, row
    _assert_cost_matches_usage(row)


def test_stream_stalled_mid_way_times_out_with_the_usage_seen(proxy: Proxy, client: openai.OpenAI) -> None:
    rid = _rid()
    with pytest.raises(openai.APIError):
        stream = client.chat.completions.create(
            model="rel-stall-timeout", messages=MESSAGES, stream=True, extra_headers=_headers(rid)
        )
        for _chunk in stream:
            pass
    row = _failure_row(proxy, rid, 504)
    assert 0 < row["completion_tokens"] < 20, row
    _assert_cost_matches_usage(row)


def test_first_byte_slower_than_the_timeout_is_a_504(proxy: Proxy, client: openai.OpenAI) -> None:
    rid = _rid()
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="rel-slow-timeout", messages=MESSAGES, extra_headers=_headers(rid)
        )
    assert info.value.status_code == 504
    row = _failure_row(proxy, rid, 504)
    assert row["completion_tokens"] == 0


def test_healthy_call_for_comparison(proxy: Proxy, client: openai.OpenAI) -> None:
    rid = _rid()
    raw = client.chat.completions.with_raw_response.create(
        model="rel-ok", messages=MESSAGES, extra_headers=_headers(rid)
    )
    raw.parse()
    row = _one_row(proxy, rid)
    assert row["status"] == "success" and row["completion_tokens"] == 9
    _assert_cost_matches_usage(row)


def _failure_row_any_status(proxy: Proxy, rid: str) -> dict[str, Any]:
    row = _one_row(proxy, rid)
    assert row["status"] == "failure", row
    assert _metadata(row).get("error"), row
    return row


def test_anthropic_overloaded_529_through_v1_messages(proxy: Proxy) -> None:
    """Anthropic's 529 ``overloaded_error`` reaches the official anthropic client as itself, through
    ``/v1/messages``, with one failure row carrying 529."""
    rid = _rid()
    client = anthropic.Anthropic(base_url=proxy.url, api_key=MASTER_KEY, max_retries=0, timeout=15)
    try:
        with pytest.raises(anthropic.APIStatusError) as info:
            client.messages.create(
                model="rel-claude-529", max_tokens=10, messages=MESSAGES, extra_headers=_headers(rid)
            )
    finally:
        client.close()
    assert info.value.status_code == 529
    body: Any = info.value.body
    assert body["error"]["type"] == "overloaded_error", body
    _failure_row(proxy, rid, 529)
