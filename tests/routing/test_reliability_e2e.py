"""Retries, fallbacks (generic, context window, content policy, default, per request), cooldown out and
back, timeouts, and the routing headers: the real proxy, the openai client, two simulator instances as
distinct deployments, and the spend rows of each scenario."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest
from tests.routing.harness import RoutedProxy, deployment

from ledgerlm.simulator import Simulator

CONTEXT_ERROR = {
    "error": {
        "message": "maximum context length exceeded",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
POLICY_ERROR = {
    "error": {
        "message": "Your request was rejected by the safety system",
        "type": "invalid_request_error",
        "param": None,
        "code": "content_policy_violation",
    }
}


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[Simulator, Simulator]]:
    models = {
        "ok": {"completion_tokens": 5},
        "down": {"error_status": 500},
        "limited": {"error_status": 429, "retry_after": 0},
        "flaky": {"error_status": 503, "fail_times": 1, "fail_key": "flaky", "retry_after": 0},
        "ctx": {"error_status": 400, "error_body": CONTEXT_ERROR},
        "policy": {"error_status": 400, "error_body": POLICY_ERROR},
        "slow": {"latency_ms": 3000},
    }
    with Simulator(models={k: dict(v) for k, v in models.items()}) as a, Simulator(models=dict(models)) as b:
        yield a, b


@pytest.fixture(scope="module")
def proxy(
    sims: tuple[Simulator, Simulator], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RoutedProxy]:
    a, b = sims
    model_list = [
        deployment("flaky", a.url, "flaky"),
        deployment("down", a.url, "down"),
        deployment(
            "good", b.url, "ok", info={"id": "good-b"}, input_cost_per_token=1e-6, output_cost_per_token=2e-6
        ),
        deployment("long", a.url, "ctx"),
        deployment("long-ctx", b.url, "ok", info={"id": "long-ctx-b"}),
        deployment("unsafe", a.url, "policy"),
        deployment("safe", b.url, "ok", info={"id": "safe-b"}),
        deployment("orphan", a.url, "down"),
        deployment("slow", a.url, "slow", timeout=0.3),
        deployment("pair", a.url, "down", info={"id": "pair-a"}),
        deployment("pair", b.url, "ok", info={"id": "pair-b"}),
    ]
    router_settings = {
        "num_retries": 1,
        "fallbacks": [{"down": ["good"]}, {"slow": ["good"]}],
        "context_window_fallbacks": [{"long": ["long-ctx"]}],
        "content_policy_fallbacks": [{"unsafe": ["safe"]}],
        "default_fallbacks": ["good"],
        "allowed_fails": 0,
        "cooldown_time": 1.5,
    }
    running = RoutedProxy(tmp_path_factory.mktemp("routing"), model_list, router_settings=router_settings)
    yield running
    running.close()


def test_retry_in_group_after_a_503(proxy: RoutedProxy, sims: tuple[Simulator, Simulator]) -> None:
    sims[0].state.fail_counts.pop("flaky", None)
    raw = proxy.chat("flaky")
    assert raw.headers["x-litellm-attempted-retries"] == "1"
    assert raw.headers["x-litellm-attempted-fallbacks"] == "0"
    assert raw.headers["x-litellm-model-group"] == "flaky"
    assert raw.headers["x-litellm-model-api-base"] == f"{sims[0].url}/v1"
    rows = proxy.rows(request_id=raw.headers["x-request-id"])
    assert [r["status"] for r in rows] == ["success"]
    assert rows[0]["metadata"]["request_metadata"]["routing"]["attempts"] == 2


def test_fallback_to_another_group(proxy: RoutedProxy, sims: tuple[Simulator, Simulator]) -> None:
    raw = proxy.chat("down")
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
    assert raw.headers["x-litellm-model-group"] == "good"
    assert raw.headers["x-litellm-model-id"] == "good-b"
    (row,) = proxy.rows(request_id=raw.headers["x-request-id"])
    assert row["status"] == "success" and row["model_group"] == "good" and row["spend"] > 0
    routing = row["metadata"]["request_metadata"]["routing"]
    assert routing["attempted_fallbacks"] == 1 and routing["attempts"] == 3  # 2 on down (1 retry), 1 on good
    assert not proxy.rows(model_group="down"), "unbilled failed attempts write no row"


def test_context_window_fallback(proxy: RoutedProxy) -> None:
    raw = proxy.chat("long")
    assert raw.headers["x-litellm-model-group"] == "long-ctx"
    assert raw.headers["x-litellm-attempted-retries"] == "0", "a context window error is not retried"


def test_content_policy_fallback(proxy: RoutedProxy) -> None:
    raw = proxy.chat("unsafe")
    assert raw.headers["x-litellm-model-group"] == "safe"


def test_default_fallbacks_and_per_request_fallbacks(proxy: RoutedProxy) -> None:
    assert proxy.chat("orphan").headers["x-litellm-model-group"] == "good"
    raw = proxy.chat("orphan", fallbacks=["safe"])
    assert raw.headers["x-litellm-model-group"] == "safe", "a per-request list replaces the configured one"
    with pytest.raises(openai.InternalServerError) as info:
        proxy.chat("orphan", disable_fallbacks=True)
    assert info.value.response.headers["x-litellm-model-group"] == "orphan"
    assert info.value.response.headers["x-litellm-attempted-retries"] == "1"
    (row,) = proxy.rows(request_id=info.value.response.headers["x-request-id"])
    assert row["status"] == "failure" and row["metadata"]["request_metadata"]["routing"]["attempts"] == 2


def test_timeout_per_deployment_then_fallback(proxy: RoutedProxy) -> None:
    started = time.monotonic()
    raw = proxy.chat("slow", num_retries=0)
    assert raw.headers["x-litellm-model-group"] == "good"
    assert time.monotonic() - started < 2.5, "the deployment's 0.3 s timeout cut the 3 s call"


def test_per_request_timeout(proxy: RoutedProxy) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        proxy.chat("slow", num_retries=0, timeout=0.2, disable_fallbacks=True)
    assert info.value.status_code in (408, 504)


def test_cooldown_takes_a_deployment_out_and_puts_it_back(
    proxy: RoutedProxy, sims: tuple[Simulator, Simulator]
) -> None:
    a = sims[0]
    time.sleep(1.6)  # no cooldown left from an earlier test

    def calls_to_a() -> int:
        return sum(1 for r in a.requests if r.json.get("model") == "down")

    before = calls_to_a()
    for _ in range(30):  # until the random pick has tried pair-a once: it fails, cools down at once
        assert proxy.chat("pair", num_retries=3).headers["x-litellm-model-id"] == "pair-b"
        if calls_to_a() > before:
            break
    hits = calls_to_a()
    assert hits == before + 1
    for _ in range(6):  # pair-a is out (allowed_fails 0): every call goes to pair-b
        assert proxy.chat("pair", num_retries=0).headers["x-litellm-model-id"] == "pair-b"
    assert calls_to_a() == hits, "no call reached the cooled-down deployment"
    time.sleep(1.7)  # cooldown_time 1.5 s: pair-a is back in the picks
    seen = set()
    for _ in range(20):
        try:
            seen.add(proxy.chat("pair", num_retries=0, disable_fallbacks=True).headers["x-litellm-model-id"])
        except openai.InternalServerError as exc:
            seen.add(exc.response.headers["x-litellm-model-id"])
            break
    assert "pair-a" in seen, "the deployment was put back after cooldown_time"


def test_model_info_shows_deployments_and_cooldown(
    proxy: RoutedProxy, sims: tuple[Simulator, Simulator]
) -> None:
    a = sims[0]
    before = sum(1 for r in a.requests if r.json.get("model") == "down")
    for _ in range(30):  # until pair-a failed once (it then cools down for 1.5 s)
        proxy.chat("pair", num_retries=3)
        if sum(1 for r in a.requests if r.json.get("model") == "down") > before:
            break
    data = proxy.admin("GET", "/model/info")["data"]
    by_id = {d["model_info"]["id"]: d for d in data}
    assert by_id["pair-a"]["model_info"]["health"] == "cooldown"
    assert 0 < by_id["pair-a"]["model_info"]["cooldown_remaining_s"] <= 1.5
    assert by_id["pair-b"]["model_info"]["health"] == "healthy"
    assert by_id["good-b"]["model_info"]["input_cost_per_token"] == 1e-6
    assert all("api_key" not in d["litellm_params"] for d in data)
    (group,) = proxy.admin("GET", "/model_group/info?model_group=pair")["data"]
    assert group["healthy_deployments"] == 1 and group["providers"] == ["openai"]
    assert {d["id"]: d["health"] for d in group["deployments"]} == {"pair-a": "cooldown", "pair-b": "healthy"}
    one = proxy.admin("GET", "/model/info?litellm_model_id=pair-b")["data"]
    assert [d["model_name"] for d in one] == ["pair"]


def test_streamed_call_falls_back_and_writes_one_row(proxy: RoutedProxy) -> None:
    stream = proxy.client().chat.completions.with_raw_response.create(
        model="down",
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert stream.headers["x-litellm-model-group"] == "good"
    chunks = list(stream.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    (row,) = proxy.rows(request_id=stream.headers["x-request-id"])
    assert row["status"] == "success" and row["model_group"] == "good" and row["spend"] > 0
    assert row["metadata"]["request_metadata"]["routing"]["attempted_fallbacks"] == 1


def test_anthropic_messages_route_falls_back(proxy: RoutedProxy) -> None:
    import anthropic

    client = anthropic.Anthropic(base_url=proxy.url, api_key="sk-routing-master", max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="down", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-litellm-model-group"] == "good"
    assert raw.parse().content[0].text
    client.close()


def test_per_request_context_window_fallback_with_its_own_messages(
    proxy: RoutedProxy, sims: tuple[Simulator, Simulator]
) -> None:
    short = [{"role": "user", "content": "short version"}]
    raw = proxy.chat("long", context_window_fallbacks=[{"model": "safe", "messages": short}])
    assert raw.headers["x-litellm-model-group"] == "safe"
    assert sims[1].requests[-1].json["messages"] == short, "the fallback sent its own messages"
    assert "context_window_fallbacks" not in sims[1].requests[-1].json, "routing keys never go upstream"


def test_bad_routing_values_are_400(proxy: RoutedProxy) -> None:
    for extra in ({"num_retries": -1}, {"fallbacks": "good"}, {"timeout": "soon"}, {"cache": 3}):
        with pytest.raises(openai.BadRequestError):
            proxy.chat("good", **extra)
