"""End to end through the SDK (``ledgerlm.completion`` / ``acompletion``) against the project's simulator
over real HTTP: Anthropic, Gemini, Vertex AI and Bedrock (Converse, ConverseStream, InvokeModel and its
stream, SigV4 verified by the simulator), plain and streamed, usage and errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

import ledgerlm
from ledgerlm import engine
from ledgerlm.engine import CallOptions
from ledgerlm.errors import (
    AuthenticationError,
    MissingAPIKeyError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
)
from ledgerlm.providers.base import Deployment
from ledgerlm.simulator import Simulator
from ledgerlm.simulator.bedrock import SIM_ACCESS_KEY_ID
from ledgerlm.types import CallContext, Usage

MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]


def _counts(usage: Usage) -> tuple[int, int, int, int, int, int]:
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
        usage.reasoning_tokens,
    )


def _knobs(**knobs: Any) -> dict[str, Any]:
    return {"extra_headers": {"x-sim": json.dumps(knobs)}}


def _collect(stream: Any) -> tuple[str, list[Any]]:
    chunks = list(stream)
    text = "".join((c.choices[0].delta.get("content") or "") for c in chunks if c.choices)
    return text, chunks


# -- Anthropic -----------------------------------------------------------------------------------------


def test_anthropic_plain_and_stream_same_usage(psim: Simulator) -> None:
    plain = ledgerlm.completion("anthropic/claude-sim-cache", MSGS, api_key="sk-ant", api_base=psim.url)
    assert plain.choices[0].message.content == "Cached hello there."
    assert plain.choices[0].finish_reason == "stop"
    assert _counts(plain.ledger.usage) == (200, 5, 100, 50, 20, 0)
    sent = psim.requests[-1]
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == "***"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json["system"] == [{"type": "text", "text": "Be brief."}] and sent.json["max_tokens"] == 4096
    stream = ledgerlm.completion(
        "anthropic/claude-sim-cache", MSGS, api_key="sk-ant", api_base=psim.url, stream=True
    )
    text, chunks = _collect(stream)
    assert text == "Cached hello there."
    assert all(c.choices for c in chunks), "usage chunk is hidden when the caller did not ask for it"
    assert stream.ledger is not None and stream.ledger.usage == plain.ledger.usage
    assert stream.ledger.record.status == "success"


async def test_anthropic_async_thinking_and_forced_tool(psim: Simulator) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    resp = await ledgerlm.acompletion(
        "anthropic/claude-sim-think",
        MSGS,
        api_key="k",
        api_base=psim.url,
        tools=tools,
        tool_choice="required",
    )
    message = resp.choices[0].message
    assert resp.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls[0]["function"]["name"] == "lookup"
    assert json.loads(message.tool_calls[0]["function"]["arguments"]) == {"query": "Thought about it."}
    assert resp.ledger.usage.output_tokens == 5 + 30
    stream = await ledgerlm.acompletion(
        "anthropic/claude-sim-think",
        MSGS,
        api_key="k",
        api_base=psim.url,
        stream=True,
        tools=tools,
        tool_choice="required",
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    arguments = "".join(
        tc["function"].get("arguments") or ""
        for c in chunks
        if c.choices
        for tc in (c.choices[0].delta.get("tool_calls") or [])
    )
    assert json.loads(arguments) == {"query": "Thought about it."}
    assert chunks[-1].usage.completion_tokens == 35 and chunks[-1].choices == []


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, AuthenticationError), (404, NotFoundError), (429, RateLimitError), (529, ServiceUnavailableError)],
)
def test_anthropic_errors(psim: Simulator, status: int, cls: type[Exception]) -> None:
    with pytest.raises(cls) as caught:
        ledgerlm.completion(
            "anthropic/claude-x",
            MSGS,
            api_key="k",
            api_base=psim.url,
            num_retries=0,
            **_knobs(error_status=status, retry_after=2),
        )
    assert caught.value.body["type"] == "error"  # type: ignore[attr-defined]
    if status == 429:
        assert caught.value.retry_after == 2.0  # type: ignore[attr-defined]


def test_anthropic_missing_key_fails_before_network(psim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    before = len(psim.requests)
    with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY"):
        ledgerlm.completion("anthropic/claude-x", MSGS, api_base=psim.url)
    assert len(psim.requests) == before


def test_anthropic_error_event_in_stream_fails_with_partial_usage(psim: Simulator) -> None:
    stream = ledgerlm.completion(
        "anthropic/claude-sim-cache",
        MSGS,
        api_key="k",
        api_base=psim.url,
        stream=True,
        num_retries=0,
        **_knobs(stream_error_after_chunks=4),
    )
    with pytest.raises(ServiceUnavailableError, match="Overloaded"):
        list(stream)
    assert stream.ledger is not None and stream.ledger.record.status == "failure"
    assert stream.ledger.usage.input_tokens == 200  # from message_start, before the error


def test_anthropic_broken_stream_is_a_failure(psim: Simulator) -> None:
    stream = ledgerlm.completion(
        "anthropic/claude-sim-cache",
        MSGS,
        api_key="k",
        api_base=psim.url,
        stream=True,
        num_retries=0,
        **_knobs(break_after_chunks=3),
    )
    with pytest.raises(ledgerlm.errors.APIConnectionError):
        list(stream)
    # An aborted connection may drop the bytes in flight, so the usage is the provider's (message_start
    # arrived) or ledgerlm's estimate; either way the failure carries a non-zero input count.
    assert stream.ledger.record.status == "failure" and stream.ledger.usage.input_tokens > 0


# -- Gemini / Vertex -------------------------------------------------------------------------------------


def test_gemini_plain_and_stream(psim: Simulator) -> None:
    plain = ledgerlm.completion("gemini/gemini-sim-think", MSGS, api_key="AIza", api_base=psim.url)
    assert plain.choices[0].message.content == "Two words."
    assert plain.choices[0].message.reasoning_content == "Thinking it over."
    assert _counts(plain.ledger.usage) == (40, 3 + 12, 10, 0, 0, 12)
    sent = psim.requests[-1]
    assert sent.path == "/v1beta/models/gemini-sim-think:generateContent"
    assert sent.json["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    stream = ledgerlm.completion(
        "gemini/gemini-sim-think", MSGS, api_key="AIza", api_base=psim.url, stream=True
    )
    text, _ = _collect(stream)
    assert text == "Two words."
    assert psim.requests[-1].query == {"alt": "sse"}
    assert stream.ledger.usage == plain.ledger.usage


def test_gemini_errors_and_stream_error(psim: Simulator) -> None:
    with pytest.raises(RateLimitError):
        ledgerlm.completion(
            "gemini/g", MSGS, api_key="k", api_base=psim.url, num_retries=0, **_knobs(error_status=429)
        )
    with pytest.raises(NotFoundError):
        ledgerlm.completion(
            "gemini/g", MSGS, api_key="k", api_base=psim.url, num_retries=0, **_knobs(error_status=404)
        )
    stream = ledgerlm.completion(
        "gemini/g",
        MSGS,
        api_key="k",
        api_base=psim.url,
        stream=True,
        num_retries=0,
        **_knobs(stream_error_after_chunks=1),
    )
    with pytest.raises(ServiceUnavailableError):
        list(stream)


def test_vertex_plain_with_project_and_token(psim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERTEXAI_PROJECT", "proj-sim")
    monkeypatch.setenv("VERTEXAI_LOCATION", "us-central1")
    resp = ledgerlm.completion("vertex_ai/gemini-sim-think", MSGS, api_key="ya29.token", api_base=psim.url)
    assert resp.choices[0].message.content == "Two words."
    assert psim.requests[-1].path == (
        "/v1/projects/proj-sim/locations/us-central1/publishers/google/models/gemini-sim-think:generateContent"
    )
    assert resp.ledger.usage.service_tier == "standard"  # Vertex trafficType ON_DEMAND
    with pytest.raises(AuthenticationError):  # no bearer token at all -> the simulator's 401
        ledgerlm.completion("vertex_ai/g", MSGS, api_key=" ", api_base=psim.url, num_retries=0)


# -- Bedrock ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("aws_env")
def test_bedrock_converse_signed_plain_and_stream(psim: Simulator) -> None:
    model = "bedrock/us.anthropic.claude-sim-v1:0"
    plain = ledgerlm.completion(model, MSGS, api_base=psim.url)
    assert plain.choices[0].message.content == "From Bedrock."
    assert _counts(plain.ledger.usage) == (200, 4, 100, 50, 0, 0)
    sent = psim.requests[-1]
    assert sent.path == "/model/us.anthropic.claude-sim-v1:0/converse"
    assert sent.json["system"] == [{"text": "Be brief."}]
    stream = ledgerlm.completion(model, MSGS, api_base=psim.url, stream=True)
    text, _ = _collect(stream)
    assert text == "From Bedrock."
    assert stream.ledger.usage == plain.ledger.usage


@pytest.mark.usefixtures("aws_env")
def test_bedrock_invoke_claude_plain_and_stream(psim: Simulator) -> None:
    model = "bedrock/invoke/anthropic.claude-sim-v1:0"
    plain = ledgerlm.completion(model, MSGS, api_base=psim.url, max_tokens=50)
    assert plain.choices[0].message.content == "From Bedrock invoke."
    assert _counts(plain.ledger.usage) == (200, 5, 100, 50, 20, 0)
    sent = psim.requests[-1]
    assert sent.path == "/model/anthropic.claude-sim-v1:0/invoke"
    assert sent.json["anthropic_version"] == "bedrock-2023-05-31" and "model" not in sent.json
    stream = ledgerlm.completion(model, MSGS, api_base=psim.url, stream=True, max_tokens=50)
    text, _ = _collect(stream)
    assert text == "From Bedrock invoke."
    assert stream.ledger.usage == plain.ledger.usage


@pytest.mark.usefixtures("aws_env")
def test_bedrock_stream_exception_frame(psim: Simulator) -> None:
    stream = ledgerlm.completion(
        "bedrock/m",
        MSGS,
        api_base=psim.url,
        stream=True,
        num_retries=0,
        **_knobs(stream_error_after_chunks=2),
    )
    with pytest.raises(ledgerlm.errors.InternalServerError, match="modelStreamErrorException"):
        list(stream)
    with pytest.raises(RateLimitError, match="ThrottlingException"):
        ledgerlm.completion("bedrock/m", MSGS, api_base=psim.url, num_retries=0, **_knobs(error_status=429))


async def test_bedrock_wrong_secret_is_rejected_by_signature_check(psim: Simulator) -> None:
    extra = {
        "aws_access_key_id": SIM_ACCESS_KEY_ID,
        "aws_secret_access_key": "wrong",
        "aws_region_name": "eu-west-1",
    }
    deployment = Deployment(provider="bedrock", model="m", api_base=psim.url, extra=extra)
    with pytest.raises(AuthenticationError):
        await engine.chat(
            deployment, {"messages": MSGS}, CallOptions(CallContext(request_id="r-wrong"), num_retries=0)
        )
    extra["aws_secret_access_key"] = "ledgerlm-simulator-secret"
    ok = await engine.chat(
        deployment, {"messages": MSGS}, CallOptions(CallContext(request_id="r-ok"), num_retries=0)
    )
    assert ok.body["choices"][0]["message"]["content"]
    assert psim.requests[-1].headers["x-amz-date"].endswith("Z")


def test_stalled_anthropic_stream_times_out_as_a_failure(psim: Simulator) -> None:
    stream = ledgerlm.completion(
        "anthropic/claude-sim-cache",
        MSGS,
        api_key="k",
        api_base=psim.url,
        stream=True,
        num_retries=0,
        timeout=0.5,
        **_knobs(stall_after_chunks=3),
    )
    with pytest.raises(ledgerlm.errors.APITimeoutError):
        list(stream)
    assert stream.ledger.record.status == "failure" and stream.ledger.usage.input_tokens == 200


@pytest.mark.parametrize("model", ["anthropic/claude-sim-cache", "gemini/gemini-sim-think", "bedrock/m"])
def test_overloaded_once_then_retried_to_success(
    psim: Simulator, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerlm.simulator.bedrock import SIM_SECRET_ACCESS_KEY

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SIM_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SIM_SECRET_ACCESS_KEY)
    status = 529 if model.startswith("anthropic") else 503
    knobs = _knobs(error_status=status, fail_times=1, fail_key=f"retry-{model}", retry_after=0)
    before = len(psim.requests)
    resp = ledgerlm.completion(
        model,
        MSGS,
        api_key="k" if "bedrock" not in model else None,
        api_base=psim.url,
        num_retries=2,
        **knobs,
    )
    assert resp.choices[0].message.content
    assert len(psim.requests) - before == 2, "one failed attempt, one retry"
