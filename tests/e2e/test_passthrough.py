"""Pass-through routes with the providers' own SDKs and formats against the simulator: the body goes
upstream as is with the deployment's credentials (never the caller's proxy key), the answer comes back
unchanged, and one spend row (call type ``pass_through_endpoint``) carries the usage read from the
answer, its cost and the request tags. ``anthropic`` SDK on ``/anthropic`` (plain and streamed),
``openai`` SDK on ``/openai/v1`` (chat, streamed with include_usage), Gemini and Vertex AI
``generateContent``, Bedrock Converse (SigV4 signed by the proxy); SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest
from tests.e2e.conftest import MASTER_KEY, Proxy, model_list

from ledgerlm.simulator import Simulator
from ledgerlm.simulator.bedrock import SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY

CLAUDE = "claude-sonnet-4-20250514"
GEMINI = "gemini-2.5-flash"
NOVA = "us.amazon.nova-micro-v1:0"
KNOBS = {"prompt_tokens": 120, "completion_tokens": 30, "content": "Passed through."}
MESSAGES: Any = [{"role": "user", "content": "hello pass-through"}]


def _entries(url: str) -> list[dict[str, Any]]:
    aws = {"aws_access_key_id": SIM_ACCESS_KEY_ID, "aws_secret_access_key": SIM_SECRET_ACCESS_KEY}
    return [
        {
            "model_name": "pt-claude",
            "litellm_params": {"model": f"anthropic/{CLAUDE}", "api_base": url, "api_key": "sk-ant-up"},
        },
        {
            "model_name": "pt-gpt",
            "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": f"{url}/v1", "api_key": "sk-up"},
        },
        {
            "model_name": "pt-gemini",
            "litellm_params": {"model": f"gemini/{GEMINI}", "api_base": url, "api_key": "AIza-up"},
        },
        {
            "model_name": "pt-vertex",
            "litellm_params": {
                "model": f"vertex_ai/{GEMINI}",
                "api_base": url,
                "api_key": "ya29.up",
                "vertex_project": "p1",
            },
        },
        {
            "model_name": "pt-nova",
            "litellm_params": {
                "model": f"bedrock/{NOVA}",
                "api_base": url,
                "aws_region_name": "us-east-1",
                **aws,
            },
        },
    ]


@pytest.fixture(scope="module")
def pproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    for model in (CLAUDE, GEMINI, NOVA, "gpt-4o-mini"):
        simulator.models[model] = dict(KNOBS)  # replaces what another module set for it
    return proxy_factory(database_url, model_list=model_list(simulator.url) + _entries(simulator.url))


@pytest.fixture()
def clients() -> Iterator[list[Any]]:
    opened: list[Any] = []
    yield opened
    for client in opened:
        client.close()


def _row(proxy: Proxy, request_id: str) -> dict[str, Any]:
    proxy.wait_written()
    row = proxy.row(request_id)
    assert row["call_type"] == "pass_through_endpoint"
    return row


def test_anthropic_sdk_plain_and_stream(pproxy: Proxy, simulator: Simulator, clients: list[Any]) -> None:
    key = pproxy.new_key(tags=["team:pt"])
    client = anthropic.Anthropic(base_url=f"{pproxy.url}/anthropic", api_key=key, max_retries=0, timeout=30)
    clients.append(client)
    raw = client.messages.with_raw_response.create(model=CLAUDE, max_tokens=50, messages=MESSAGES)
    message = raw.parse()
    assert message.content[0].type == "text" and message.content[0].text == "Passed through."
    sent = simulator.requests[-1]
    assert sent.path == "/v1/messages" and sent.json["messages"] == MESSAGES
    assert sent.headers["x-api-key"] == "***" and key not in str(sent.headers)  # upstream credentials only
    row = _row(pproxy, raw.headers["x-request-id"])
    assert row["prompt_tokens"] == 120 and row["completion_tokens"] == 30 and row["spend"] > 0
    assert row["spend"] == Decimal(raw.headers["x-ledgerlm-response-cost"])
    assert "team:pt" in row["request_tags"] and row["custom_llm_provider"] == "anthropic"
    with client.messages.stream(model=CLAUDE, max_tokens=50, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "Passed through."
    pproxy.wait_written()
    streamed = [
        r
        for r in pproxy.rows(call_type="pass_through_endpoint", model=CLAUDE)
        if r["request_id"] != row["request_id"]
    ]
    assert streamed and streamed[-1]["spend"] == row["spend"] and streamed[-1]["completion_tokens"] == 30


def test_openai_sdk_chat(pproxy: Proxy, clients: list[Any]) -> None:
    client = openai.OpenAI(base_url=f"{pproxy.url}/openai/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    clients.append(client)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "Passed through."
    row = _row(pproxy, raw.headers["x-request-id"])
    assert row["prompt_tokens"] == 120 and row["model"] == "gpt-4o-mini"
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 120
    pproxy.wait_written()
    rows = pproxy.rows(call_type="pass_through_endpoint", model="gpt-4o-mini")
    assert len({r["spend"] for r in rows}) == 1, "streamed and plain cost the same"


def test_gemini_vertex_bedrock_native_bodies(pproxy: Proxy) -> None:
    gemini_body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    status, answer, headers = pproxy.request(
        "POST", f"/gemini/v1beta/models/{GEMINI}:generateContent?key={MASTER_KEY}", gemini_body, key=None
    )
    assert status == 200 and answer["usageMetadata"]["promptTokenCount"] == 120
    row = _row(pproxy, headers["x-request-id"])
    assert row["model"] == GEMINI and row["custom_llm_provider"] == "gemini" and row["prompt_tokens"] == 120
    path = (
        f"/vertex_ai/v1/projects/p1/locations/us-central1/publishers/google/models/{GEMINI}:generateContent"
    )
    status, answer, headers = pproxy.request(
        "POST", path, gemini_body, key=None, headers={"x-litellm-api-key": MASTER_KEY}
    )
    assert status == 200 and _row(pproxy, headers["x-request-id"])["custom_llm_provider"] == "vertex_ai"
    converse = {"messages": [{"role": "user", "content": [{"text": "hello"}]}]}
    status, answer, headers = pproxy.request("POST", f"/bedrock/model/{NOVA}/converse", converse)
    assert status == 200, answer
    row = _row(pproxy, headers["x-request-id"])
    assert row["custom_llm_provider"] == "bedrock" and row["prompt_tokens"] == 120 and row["spend"] > 0


def test_pass_through_auth_and_provider_errors(pproxy: Proxy, simulator: Simulator) -> None:
    status, _, _ = pproxy.request("POST", "/anthropic/v1/messages", {"model": CLAUDE}, key="sk-wrong")
    assert status == 401
    simulator.models["claude-broken-pt"] = {"error_status": 429, "retry_after": 0}
    body = {"model": "claude-broken-pt", "max_tokens": 5, "messages": MESSAGES}
    status, answer, headers = pproxy.request("POST", "/anthropic/v1/messages", body)
    assert status == 429 and answer["type"] == "error"  # the provider's own error body
    pproxy.wait_written()
    assert pproxy.row(headers["x-request-id"])["status"] == "failure"


def test_a_key_limited_to_models_passes_through_only_those(pproxy: Proxy, clients: list[Any]) -> None:
    """A key limited to ``pt-gpt`` reaches its model through ``/openai`` but not another model, nor
    ``/anthropic`` (found by the QA pass: pass-through ignored the key's ``models``); 403 in the
    provider SDK's error, nothing sent upstream for the refused calls."""
    key = pproxy.new_key(models=["pt-gpt"])
    client = openai.OpenAI(base_url=f"{pproxy.url}/openai/v1", api_key=key, max_retries=0, timeout=30)
    clients.append(client)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices
    with pytest.raises(openai.PermissionDeniedError, match=r"model_not_allowed|may not use model"):
        client.chat.completions.create(model="llama-3-70b", messages=MESSAGES)
    other = anthropic.Anthropic(base_url=f"{pproxy.url}/anthropic", api_key=key, max_retries=0, timeout=30)
    clients.append(other)
    with pytest.raises(anthropic.PermissionDeniedError):
        other.messages.create(model=CLAUDE, max_tokens=50, messages=MESSAGES)
