"""Anthropic provider: request / response / stream / error translation on payloads written from the
Anthropic Messages API reference and streaming guide."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from ledgerlm.errors import (
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
)
from ledgerlm.providers.anthropic import AnthropicProvider, messages_url
from ledgerlm.providers.anthropic.request import anthropic_request_body
from ledgerlm.providers.base import Deployment

PROVIDER = AnthropicProvider()
DEP = Deployment(provider="anthropic", model="claude-sonnet-4-5", api_key="sk-ant-test")


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def _feed(events: list[dict[str, Any]], *, wants_usage: bool = True, step: int = 7) -> tuple[Any, list[Any]]:
    decoder = PROVIDER.stream_decoder(DEP, caller_wants_usage=wants_usage)
    data = _sse(events)
    chunks: list[dict[str, Any]] = []
    for i in range(0, len(data), step):
        chunks += decoder.feed(data[i : i + step])
    chunks += decoder.close()
    return decoder, chunks


def test_request_system_turns_images_and_params() -> None:
    params = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "system",
                "content": [{"type": "text", "text": "Long doc", "cache_control": {"type": "ephemeral"}}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                ],
            },
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": "Sure?"},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": "END",
        "user": "user-42",
    }
    body = anthropic_request_body("claude-x", params, stream=False)
    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Long doc", "cache_control": {"type": "ephemeral"}},
    ]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    user_blocks = body["messages"][0]["content"]
    assert user_blocks[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"},
    }
    assert user_blocks[2] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/cat.png"},
    }
    assert body["max_tokens"] == 4096
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "user-42"}
    assert "stream" not in body


def test_request_tools_tool_choice_and_tool_results_merge() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
            "cache_control": {"type": "ephemeral"},
        }
    ]
    params = {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "toolu_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "25C"},
        ],
        "tools": tools,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "max_tokens": 100,
    }
    body = anthropic_request_body("claude-x", params, stream=True)
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather",
            "input_schema": tools[0]["function"]["parameters"],
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    assert body["messages"][1]["content"][0] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    results = body["messages"][2]
    assert results["role"] == "user"
    assert [b["tool_use_id"] for b in results["content"]] == ["toolu_1", "toolu_2"]
    assert body["stream"] is True and body["max_tokens"] == 100


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("auto", {"type": "auto"}), ("required", {"type": "any"}), ("none", {"type": "none"})],
)
def test_tool_choice_strings(choice: str, expected: dict[str, Any]) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    body = anthropic_request_body(
        "m",
        {"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": choice},
        stream=False,
    )
    assert body["tool_choice"] == expected


def test_reasoning_effort_becomes_thinking_with_room_for_output() -> None:
    body = anthropic_request_body(
        "m",
        {"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "high", "max_tokens": 1000},
        stream=False,
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] > 4096


def test_bad_tool_arguments_and_role_raise_bad_request() -> None:
    bad_args = [
        {"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{nope"}}]}
    ]
    with pytest.raises(BadRequestError):
        anthropic_request_body("m", {"messages": bad_args}, stream=False)
    with pytest.raises(BadRequestError, match="unsupported role"):
        anthropic_request_body("m", {"messages": [{"role": "wizard", "content": "x"}]}, stream=False)


def test_http_request_headers_url_and_native_mode() -> None:
    request = PROVIDER.build_chat_request(
        DEP, {"messages": [{"role": "user", "content": "hi"}]}, stream=False
    )
    assert request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-test"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert orjson.loads(request.body)["model"] == "claude-sonnet-4-5"
    native = PROVIDER.build_messages_request(
        DEP, {"model": "alias", "max_tokens": 5, "messages": []}, stream=True
    )
    assert orjson.loads(native.body) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 5,
        "messages": [],
        "stream": True,
    }
    assert messages_url("http://127.0.0.1:9/v1") == "http://127.0.0.1:9/v1/messages"


def test_response_text_tools_thinking_usage_and_finish() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_9", "name": "lookup", "input": {"q": "x"}},
        ],
        "stop_reason": "tool_use",
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 50,
            "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 30},
            "output_tokens": 40,
        },
    }
    out = PROVIDER.parse_chat_response(DEP, body)
    message = out["choices"][0]["message"]
    assert out["choices"][0]["finish_reason"] == "tool_calls"
    assert message["content"] == "Checking."
    assert message["reasoning_content"] == "Let me think."
    assert message["tool_calls"] == [
        {"id": "toolu_9", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    ]
    assert out["usage"]["prompt_tokens"] == 160 and out["usage"]["completion_tokens"] == 40
    usage = PROVIDER.usage_from_body(body)
    assert (
        usage.input_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
    ) == (160, 100, 50, 30)


@pytest.mark.parametrize(
    ("stop", "finish"),
    [("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop"), ("tool_use", "tool_calls")],
)
def test_finish_reasons(stop: str, finish: str) -> None:
    body = {
        "id": "m",
        "model": "c",
        "content": [{"type": "text", "text": "x"}],
        "stop_reason": stop,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    assert PROVIDER.parse_chat_response(DEP, body)["choices"][0]["finish_reason"] == finish


STREAM = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_s",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [],
            "stop_reason": None,
            "usage": {
                "input_tokens": 12,
                "cache_read_input_tokens": 30,
                "cache_creation_input_tokens": 0,
                "output_tokens": 1,
            },
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm."}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "abc"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "toolu_a", "name": "f", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"a": '},
    },
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
    {"type": "content_block_stop", "index": 2},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 25}},
    {"type": "message_stop"},
]


def test_stream_translates_every_event_kind() -> None:
    decoder, chunks = _feed(STREAM)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert {"reasoning_content": "Hmm."} in deltas
    assert "".join(d.get("content", "") for d in deltas) == "Hello"
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert calls[0] == {
        "index": 0,
        "id": "toolu_a",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    assert "".join(tc["function"]["arguments"] for tc in calls) == '{"a": 1}'
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 42
    assert decoder.finish_reasons == ["tool_calls"]
    assert decoder.usage is not None
    assert (decoder.usage.input_tokens, decoder.usage.output_tokens, decoder.usage.cache_read_tokens) == (
        42,
        25,
        30,
    )
    assert decoder.response_id == "msg_s" and decoder.response_model == "claude-x"


def test_stream_usage_chunk_hidden_when_caller_did_not_ask() -> None:
    decoder, chunks = _feed(STREAM, wants_usage=False, step=1000)
    assert all(c["choices"] for c in chunks)
    assert decoder.usage is not None and decoder.usage.output_tokens == 25


def test_stream_error_event_raises_mapped_error_with_partial_usage() -> None:
    events = [*STREAM[:8], {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}]
    decoder = PROVIDER.stream_decoder(DEP, caller_wants_usage=False)
    with pytest.raises(ServiceUnavailableError, match="Overloaded"):
        decoder.feed(_sse(events))
    assert decoder.usage is not None and decoder.usage.input_tokens == 42


@pytest.mark.parametrize(
    ("status", "kind", "message", "cls"),
    [
        (401, "authentication_error", "invalid x-api-key", AuthenticationError),
        (404, "not_found_error", "model: claude-nope", NotFoundError),
        (429, "rate_limit_error", "slow down", RateLimitError),
        (529, "overloaded_error", "Overloaded", ServiceUnavailableError),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 300000 tokens > 200000 maximum",
            ContextWindowExceededError,
        ),
    ],
)
def test_errors_map_to_the_tree(status: int, kind: str, message: str, cls: type[Exception]) -> None:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}
    error = PROVIDER.error_from_response(DEP, status, json.dumps(body).encode(), {"retry-after": "7"})
    assert type(error) is cls
    assert error.body == body and error.request_id == "req_1" and error.provider == "anthropic"
    assert error.retry_after == 7.0
    if status == 404:
        assert error.code == "model_not_found"


def test_non_json_error_body_is_kept_as_text() -> None:
    error = PROVIDER.error_from_response(DEP, 502, b"<html>bad gateway</html>", {})
    assert error.status_code == 500 and error.body == "<html>bad gateway</html>"
