"""Bedrock: Converse / InvokeModel request translation, SigV4 signing (botocore), region prefixes, the
binary event stream (frames encoded by our simulator encoder, decoded by botocore) and errors, on
payloads written from the Bedrock Runtime API reference."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ledgerlm.errors import BadRequestError, NotFoundError, RateLimitError, ServiceUnavailableError
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.bedrock import BedrockProvider, base_model_id, split_route
from ledgerlm.providers.bedrock.request import converse_body, invoke_anthropic_body
from ledgerlm.simulator._bedrock_eventstream import chunk_frame, event_frame, exception_frame
from ledgerlm.simulator.bedrock import sigv4_signature

PROVIDER = BedrockProvider()
KEYS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret", "aws_region_name": "us-west-2"}


def _dep(model: str, **extra: Any) -> Deployment:
    return Deployment(provider="bedrock", model=model, extra={**KEYS, **extra})


def test_converse_body() -> None:
    params = {
        "messages": [
            {
                "role": "system",
                "content": [{"type": "text", "text": "Sys", "cache_control": {"type": "ephemeral"}}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,AAA="}},
                ],
            },
            {
                "role": "assistant",
                "content": "ok",
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "42"},
        ],
        "max_tokens": 50,
        "temperature": 0.3,
        "top_p": 0.8,
        "stop": "STOP",
        "top_k": 5,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "required",
        "reasoning_effort": "medium",
    }
    body = converse_body(params)
    assert body["system"] == [{"text": "Sys"}, {"cachePoint": {"type": "default"}}]
    assert body["messages"][0]["content"][1] == {"image": {"format": "jpeg", "source": {"bytes": "AAA="}}}
    assert body["messages"][1]["content"] == [
        {"text": "ok"},
        {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"x": 1}}},
    ]
    assert body["messages"][2] == {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "42"}]}}],
    }
    assert body["inferenceConfig"] == {
        "maxTokens": 50,
        "temperature": 0.3,
        "topP": 0.8,
        "stopSequences": ["STOP"],
    }
    assert body["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}],
        "toolChoice": {"any": {}},
    }
    assert body["additionalModelRequestFields"] == {
        "top_k": 5,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }


def test_converse_rejects_http_images() -> None:
    with pytest.raises(BadRequestError, match="data URLs"):
        converse_body(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
                    }
                ]
            }
        )


def test_invoke_body_is_anthropic_messages_with_bedrock_version() -> None:
    body = invoke_anthropic_body({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10})
    assert body == {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "max_tokens": 10,
        "anthropic_version": "bedrock-2023-05-31",
    }


def test_routes_regions_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert split_route("invoke/anthropic.claude-3-haiku") == ("invoke", "anthropic.claude-3-haiku")
    assert split_route("us.amazon.nova-lite-v1:0") == ("converse", "us.amazon.nova-lite-v1:0")
    assert base_model_id("invoke/eu.anthropic.claude-3-7-sonnet-20250219-v1:0") == (
        "anthropic.claude-3-7-sonnet-20250219-v1:0"
    )
    no_region = Deployment(provider="bedrock", model="eu.anthropic.claude-x-v1:0")
    assert PROVIDER.region(no_region) == "eu-west-1"
    assert (
        PROVIDER.region(Deployment(provider="bedrock", model="apac.amazon.nova-pro-v1:0")) == "ap-northeast-1"
    )
    assert PROVIDER.url(_dep("us.anthropic.claude-x-v1:0"), stream=True) == (
        "https://bedrock-runtime.us-west-2.amazonaws.com/model/us.anthropic.claude-x-v1:0/converse-stream"
    )
    assert PROVIDER.url(_dep("invoke/anthropic.claude-x-v1:0"), stream=False).endswith(
        "/model/anthropic.claude-x-v1:0/invoke"
    )
    local = Deployment(provider="bedrock", model="invoke/m", api_base="http://127.0.0.1:1/", extra=KEYS)
    assert PROVIDER.url(local, stream=True) == "http://127.0.0.1:1/model/m/invoke-with-response-stream"


def test_sigv4_signature_matches_botocore() -> None:
    dep = _dep("us.amazon.nova-micro-v1:0", aws_session_token="sess-tok")
    request = PROVIDER.build_chat_request(
        dep, {"messages": [{"role": "user", "content": "hi"}]}, stream=False
    )
    auth = request.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-west-2/bedrock/aws4_request" in auth
    assert request.headers["X-Amz-Security-Token"] == "sess-tok"
    # Re-sign the same request independently at the same timestamp: the signature must be identical.
    again = AWSRequest(
        method="POST",
        url=request.url,
        data=request.body,
        headers={"content-type": "application/json", "accept": "application/json"},
    )
    expected = sigv4_signature(
        Credentials("AKIDEXAMPLE", "secret", "sess-tok"),
        "bedrock",
        "us-west-2",
        again,
        request.headers["X-Amz-Date"],
    )
    assert auth.endswith(f"Signature={expected}")
    wrong = sigv4_signature(
        Credentials("AKIDEXAMPLE", "other", "sess-tok"),
        "bedrock",
        "us-west-2",
        again,
        request.headers["X-Amz-Date"],
    )
    assert not auth.endswith(f"Signature={wrong}")


def test_bearer_api_key_skips_signing() -> None:
    dep = Deployment(
        provider="bedrock", model="m", api_key="bedrock-api-key", extra={"aws_region_name": "us-east-1"}
    )
    request = PROVIDER.build_chat_request(
        dep, {"messages": [{"role": "user", "content": "hi"}]}, stream=False
    )
    assert request.headers["authorization"] == "Bearer bedrock-api-key"


def test_converse_response() -> None:
    body = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s"}}},
                    {"text": "Hi"},
                    {"toolUse": {"toolUseId": "tu1", "name": "f", "input": {"a": 1}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {
            "inputTokens": 5,
            "outputTokens": 7,
            "cacheReadInputTokens": 100,
            "cacheWriteInputTokens": 10,
            "totalTokens": 122,
        },
        "metrics": {"latencyMs": 10},
    }
    out = PROVIDER.parse_chat_response(_dep("us.anthropic.claude-x-v1:0"), body)
    message = out["choices"][0]["message"]
    assert out["choices"][0]["finish_reason"] == "tool_calls"
    assert message["content"] == "Hi" and message["reasoning_content"] == "hmm"
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
    usage = PROVIDER.usage_from_body(body)
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens, usage.output_tokens) == (
        115,
        100,
        10,
        7,
    )


def test_invoke_response_is_anthropic() -> None:
    body = {
        "id": "msg_b",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-haiku",
        "content": [{"type": "text", "text": "yo"}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 3, "cache_read_input_tokens": 4, "output_tokens": 2},
    }
    out = PROVIDER.parse_chat_response(_dep("invoke/anthropic.claude-3-haiku"), body)
    assert out["choices"][0]["message"]["content"] == "yo" and out["choices"][0]["finish_reason"] == "length"
    assert PROVIDER.usage_from_body(body).input_tokens == 7


def _decode(model: str, frames: bytes, *, wants_usage: bool = True, step: int = 13) -> tuple[Any, list[Any]]:
    decoder = PROVIDER.stream_decoder(_dep(model), caller_wants_usage=wants_usage)
    chunks: list[dict[str, Any]] = []
    for i in range(0, len(frames), step):
        chunks += decoder.feed(frames[i : i + step])
    return decoder, chunks + decoder.close()


CONVERSE_STREAM = b"".join(
    [
        event_frame("messageStart", {"role": "assistant"}),
        event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
        event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "lo"}}),
        event_frame("contentBlockStop", {"contentBlockIndex": 0}),
        event_frame(
            "contentBlockStart",
            {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t9", "name": "f"}}},
        ),
        event_frame("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a":'}}}),
        event_frame("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "2}"}}}),
        event_frame("messageStop", {"stopReason": "tool_use"}),
        event_frame(
            "metadata",
            {
                "usage": {"inputTokens": 11, "outputTokens": 6, "cacheReadInputTokens": 4, "totalTokens": 21},
                "metrics": {"latencyMs": 5},
            },
        ),
    ]
)


def test_converse_stream_decoding() -> None:
    decoder, chunks = _decode("us.amazon.nova-micro-v1:0", CONVERSE_STREAM)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content", "") for d in deltas) == "Hello"
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert calls[0]["id"] == "t9" and "".join(tc["function"]["arguments"] for tc in calls) == '{"a":2}'
    assert decoder.finish_reasons == ["tool_calls"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 15
    assert decoder.usage.input_tokens == 15 and decoder.usage.cache_read_tokens == 4


def test_converse_stream_exception_frame_raises() -> None:
    decoder = PROVIDER.stream_decoder(_dep("m"), caller_wants_usage=False)
    decoder.feed(event_frame("messageStart", {"role": "assistant"}))
    with pytest.raises(RateLimitError, match="Too many tokens"):
        decoder.feed(exception_frame("throttlingException", "Too many tokens"))
    with pytest.raises(ServiceUnavailableError):
        PROVIDER.stream_decoder(_dep("m"), caller_wants_usage=False).feed(
            exception_frame("serviceUnavailableException", "down")
        )


def test_invoke_stream_with_anthropic_events() -> None:
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_bd",
                "model": "claude-3-haiku",
                "content": [],
                "usage": {"input_tokens": 16, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 21}},
        {
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {"inputTokenCount": 16, "outputTokenCount": 21},
        },
    ]
    decoder, chunks = _decode("invoke/anthropic.claude-3-haiku", b"".join(chunk_frame(e) for e in events))
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hi"
    assert decoder.finish_reasons == ["stop"] and decoder.response_id == "msg_bd"
    assert (decoder.usage.input_tokens, decoder.usage.output_tokens) == (16, 21)


@pytest.mark.parametrize(
    ("status", "errortype", "cls"),
    [
        (400, "ValidationException", BadRequestError),
        (404, "ResourceNotFoundException", NotFoundError),
        (429, "ThrottlingException", RateLimitError),
        (503, "ServiceUnavailableException", ServiceUnavailableError),
    ],
)
def test_errors(status: int, errortype: str, cls: type[Exception]) -> None:
    headers = {
        "x-amzn-ErrorType": f"{errortype}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": "rid-1",
    }
    error = PROVIDER.error_from_response(_dep("m"), status, b'{"message": "nope"}', headers)
    assert type(error) is cls and errortype in error.message and error.request_id == "rid-1"
    assert error.body == {"message": "nope"}


def test_native_invoke_mode_passes_anthropic_body_and_events_through() -> None:
    from ledgerlm.providers.anthropic import NATIVE_FLAG

    dep = _dep("invoke/anthropic.claude-3-haiku", **{NATIVE_FLAG: True})
    anthropic_body = {
        "model": "public",
        "max_tokens": 9,
        "stream": True,
        "metadata": {"user_id": "u"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [],
    }
    sent = orjson.loads(PROVIDER.build_chat_request(dep, anthropic_body, stream=True).body)
    assert sent == {
        "max_tokens": 9,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [],
        "anthropic_version": "bedrock-2023-05-31",
    }
    body = {"id": "m", "type": "message", "content": [], "usage": {"input_tokens": 1, "output_tokens": 1}}
    assert PROVIDER.parse_chat_response(dep, body) == body
    events = [
        {
            "type": "message_start",
            "message": {"id": "m", "model": "c", "usage": {"input_tokens": 4, "output_tokens": 1}},
        },
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
        {"type": "message_stop"},
    ]
    decoder = PROVIDER.stream_decoder(dep, caller_wants_usage=False)
    out = decoder.feed(b"".join(chunk_frame(e) for e in events)) + decoder.close()
    assert out == events
    assert decoder.usage.output_tokens == 3 and decoder.finish_reasons == ["stop"]
