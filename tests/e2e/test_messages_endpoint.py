"""The real proxy with the official ``anthropic`` client on ``/v1/messages`` and the ``openai`` client on
``/v1/chat/completions``, routed to Anthropic (native pass-through), Gemini, Vertex AI and Bedrock
deployments served by the project's simulator; SQLite and PostgreSQL. Proves content, usage, streaming,
errors (401, 404, 429, 529, an error event inside a stream) and one spend row per call with its cost."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import pytest
from tests.e2e.conftest import MASTER_KEY, Proxy, model_list

from ledgerlm.simulator import Simulator
from ledgerlm.simulator.bedrock import SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY

CLAUDE = "claude-sonnet-4-20250514"
GEMINI = "gemini-2.5-flash"
NOVA = "us.amazon.nova-micro-v1:0"
KNOBS = {
    "prompt_tokens": 300,
    "cached_tokens": 200,
    "cache_write_tokens": 40,
    "content": "Proxied reply here.",
}
MESSAGES: list[Any] = [{"role": "user", "content": "hello proxy"}]


def _entries(sim_url: str) -> list[dict[str, Any]]:
    aws = {
        "aws_access_key_id": SIM_ACCESS_KEY_ID,
        "aws_secret_access_key": SIM_SECRET_ACCESS_KEY,
        "aws_region_name": "us-east-1",
    }
    return [
        {
            "model_name": "claude",
            "litellm_params": {
                "model": f"anthropic/{CLAUDE}",
                "api_base": sim_url,
                "api_key": "sk-ant-upstream",
            },
        },
        {
            "model_name": "gemini",
            "litellm_params": {"model": f"gemini/{GEMINI}", "api_base": sim_url, "api_key": "AIza-upstream"},
        },
        {
            "model_name": "vertex",
            "litellm_params": {
                "model": f"vertex_ai/{GEMINI}",
                "api_base": sim_url,
                "api_key": "ya29.upstream",
                "vertex_project": "p1",
                "vertex_location": "us-central1",
            },
        },
        {"model_name": "nova", "litellm_params": {"model": f"bedrock/{NOVA}", "api_base": sim_url, **aws}},
        {
            "model_name": "claude-invoke",
            "litellm_params": {
                "model": "bedrock/invoke/anthropic.claude-3-5-haiku-20241022-v1:0",
                "api_base": sim_url,
                **aws,
            },
        },
    ] + [
        {
            "model_name": name,
            "litellm_params": {
                "model": f"{provider}/{name}-sim",
                "api_base": sim_url,
                "api_key": "upstream-key",
            },
        }
        for name, provider in FAULTY.items()
    ]


# Public model name -> provider; the simulator model "<name>-sim" carries the fault in FAULT_KNOBS.
FAULTY = {
    "claude-529": "anthropic",
    "gemini-429": "gemini",
    "claude-streamerr": "anthropic",
    "gemini-streamerr": "gemini",
}
FAULT_KNOBS: dict[str, dict[str, Any]] = {
    "claude-529": {"error_status": 529},
    "gemini-429": {"error_status": 429, "retry_after": 0},
    "claude-streamerr": {"stream_error_after_chunks": 4},
    "gemini-streamerr": {"stream_error_after_chunks": 1},
}


@pytest.fixture(scope="module")
def mproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    for model in (CLAUDE, GEMINI, NOVA, "anthropic.claude-3-5-haiku-20241022-v1:0"):
        simulator.models[model] = dict(KNOBS)
    for name, knobs in FAULT_KNOBS.items():
        simulator.models[f"{name}-sim"] = dict(knobs)
    return proxy_factory(database_url, model_list=model_list(simulator.url) + _entries(simulator.url))


_OPEN: list[anthropic.Anthropic] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Close every anthropic client a test opened (no socket left to the garbage collector)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def _client(proxy: Proxy, key: str = MASTER_KEY) -> anthropic.Anthropic:
    """The official anthropic client pointed at the proxy (no client-side retries), closed after the test."""
    client = anthropic.Anthropic(base_url=proxy.url, api_key=key, max_retries=0, timeout=30)
    _OPEN.append(client)
    return client


@pytest.mark.parametrize("model", ["claude", "gemini", "vertex", "nova", "claude-invoke"])
def test_messages_plain_and_stream_same_usage_and_cost(mproxy: Proxy, model: str) -> None:
    client = _client(mproxy)
    raw = client.messages.with_raw_response.create(
        model=model, max_tokens=100, messages=MESSAGES, metadata={"user_id": "end-1"}
    )
    message = raw.parse()
    assert message.content[0].type == "text" and message.content[0].text == "Proxied reply here."
    assert message.stop_reason == "end_turn"
    usage = message.usage
    assert (
        usage.input_tokens + (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0)
    ) == 300
    assert usage.cache_read_input_tokens == 200
    cost = Decimal(raw.headers["x-ledgerlm-response-cost"])
    assert cost > 0
    with client.messages.stream(model=model, max_tokens=100, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Proxied reply here."
    assert final.usage.output_tokens == usage.output_tokens
    assert final.usage.cache_read_input_tokens == 200
    mproxy.wait_written()
    row = mproxy.row(raw.headers["x-request-id"])
    assert row["status"] == "success" and row["call_type"] == "amessages" and row["model_group"] == model
    assert row["spend"] == cost and row["prompt_tokens"] == 300
    assert row["end_user"] == "end-1"
    streamed = [
        r
        for r in mproxy.rows(model_group=model, call_type="amessages")
        if r["request_id"] != row["request_id"]
    ]
    assert streamed and streamed[-1]["status"] == "success" and streamed[-1]["spend"] == cost


def test_messages_tool_use_native_and_translated(mproxy: Proxy) -> None:
    tools: list[Any] = [{"name": "lookup", "description": "Find", "input_schema": {"type": "object"}}]
    for model in ("claude", "gemini"):
        message = _client(mproxy).messages.create(
            model=model, max_tokens=50, messages=MESSAGES, tools=tools, tool_choice={"type": "any"}
        )
        uses = [b for b in message.content if b.type == "tool_use"]
        assert message.stop_reason == "tool_use" and uses[0].name == "lookup"
        assert uses[0].input == {"query": "Proxied reply here."}


@pytest.mark.parametrize("model", ["claude", "gemini", "nova"])
def test_openai_client_on_chat_completions(mproxy: Proxy, model: str) -> None:
    client = mproxy.client()
    raw = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Proxied reply here."
    assert completion.usage is not None and completion.usage.prompt_tokens == 300
    stream = client.chat.completions.create(
        model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Proxied reply here."
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 300
    mproxy.wait_written()
    row = mproxy.row(raw.headers["x-request-id"])
    assert row["status"] == "success" and row["spend"] == Decimal(raw.headers["x-ledgerlm-response-cost"])


def test_messages_errors(mproxy: Proxy) -> None:
    with pytest.raises(anthropic.AuthenticationError):
        _client(mproxy, key="sk-wrong").messages.create(model="claude", max_tokens=5, messages=MESSAGES)
    with pytest.raises(anthropic.NotFoundError):
        _client(mproxy).messages.create(model="no-such-model", max_tokens=5, messages=MESSAGES)
    with pytest.raises(anthropic.RateLimitError):
        _client(mproxy).messages.create(model="gemini-429", max_tokens=5, messages=MESSAGES)
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        _client(mproxy).messages.create(model="claude-529", max_tokens=5, messages=MESSAGES)
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


@pytest.mark.parametrize("model", ["claude-streamerr", "gemini-streamerr"])
def test_messages_error_event_inside_stream(mproxy: Proxy, model: str) -> None:
    client = _client(mproxy)
    with (
        pytest.raises(anthropic.APIStatusError),
        client.messages.stream(model=model, max_tokens=50, messages=MESSAGES) as stream,
    ):
        for _ in stream.text_stream:
            pass
    mproxy.wait_written()
    failed = [r for r in mproxy.rows(model_group=model, call_type="amessages") if r["status"] == "failure"]
    assert failed, "the failed stream has its spend row"


@pytest.mark.parametrize(
    ("model", "path"),
    [("claude", "/v1/messages"), ("claude-invoke", "/model/anthropic.claude-3-5-haiku-20241022-v1:0/invoke")],
)
def test_native_pass_through_keeps_anthropic_fields(
    mproxy: Proxy, simulator: Simulator, model: str, path: str
) -> None:
    system: Any = [
        {"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    ]
    thinking: Any = {"type": "enabled", "budget_tokens": 1024}
    message = _client(mproxy).messages.create(
        model=model,
        max_tokens=2000,
        system=system,
        thinking=thinking,
        extra_body={"top_k": 5},
        messages=MESSAGES,
    )
    assert message.content[-1].type == "text"
    sent = next(r for r in reversed(simulator.requests) if r.path == path)
    assert sent.json["system"] == system and sent.json["thinking"] == thinking and sent.json["top_k"] == 5
    if model == "claude":
        assert sent.json["model"] == CLAUDE
    else:
        assert "model" not in sent.json and sent.json["anthropic_version"] == "bedrock-2023-05-31"
