"""Anthropic <-> OpenAI reverse translation used by the proxy's /v1/messages for non-Anthropic
deployments, and the native mode of the Anthropic provider."""

from __future__ import annotations

import json
from typing import Any

import orjson

from ledgerlm.providers.anthropic import NATIVE_FLAG, AnthropicProvider
from ledgerlm.providers.anthropic.from_openai import (
    AnthropicEventEncoder,
    anthropic_message,
    anthropic_usage,
    openai_request,
)
from ledgerlm.providers.anthropic.request import anthropic_request_body
from ledgerlm.providers.base import Deployment
from ledgerlm.types import Usage

ANTHROPIC_BODY: dict[str, Any] = {
    "model": "my-claude",
    "max_tokens": 300,
    "system": [{"type": "text", "text": "Sys", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Hi"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Calling"},
                {"type": "tool_use", "id": "tu1", "name": "f", "input": {"a": 1}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "done"}]},
    ],
    "tools": [{"name": "f", "description": "F", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "stop_sequences": ["X"],
    "temperature": 0.5,
    "metadata": {"user_id": "u1"},
    "thinking": {"type": "enabled", "budget_tokens": 2000},
    "stream": True,
}


def test_anthropic_request_to_openai() -> None:
    out = openai_request(ANTHROPIC_BODY)
    assert out["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "Sys", "cache_control": {"type": "ephemeral"}}],
    }
    assert out["messages"][1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,AA=="},
    }
    assert out["messages"][2]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert out["messages"][3] == {"role": "tool", "tool_call_id": "tu1", "content": "done"}
    assert out["tools"][0]["function"]["parameters"] == {"type": "object"}
    assert out["tool_choice"] == "required" and out["parallel_tool_calls"] is False
    assert out["stop"] == ["X"] and out["user"] == "u1" and out["reasoning_effort"] == "medium"
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    # and back: the OpenAI body translates to the same Anthropic conversation
    again = anthropic_request_body("m", out, stream=True)
    assert again["messages"][1]["content"][1] == {
        "type": "tool_use",
        "id": "tu1",
        "name": "f",
        "input": {"a": 1},
    }
    assert again["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_openai_completion_to_anthropic_message() -> None:
    completion = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "ok",
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 2}'}}
                    ],
                },
            }
        ]
    }
    usage = Usage(input_tokens=100, cache_read_tokens=60, cache_write_tokens=10, output_tokens=5)
    message = anthropic_message(completion, usage, "my-model")
    assert message["content"] == [
        {"type": "text", "text": "ok"},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"x": 2}},
    ]
    assert message["stop_reason"] == "tool_use" and message["model"] == "my-model"
    assert message["usage"] == {
        "input_tokens": 30,
        "cache_creation_input_tokens": 10,
        "cache_read_input_tokens": 60,
        "output_tokens": 5,
    }


def test_usage_round_trip_keeps_the_one_hour_split() -> None:
    usage = Usage(input_tokens=50, cache_write_tokens=40, cache_write_1h_tokens=15, output_tokens=1)
    assert anthropic_usage(usage)["cache_creation"] == {
        "ephemeral_5m_input_tokens": 25,
        "ephemeral_1h_input_tokens": 15,
    }


def test_chunks_to_anthropic_events() -> None:
    encoder = AnthropicEventEncoder("my-model")
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {"choices": [{"index": 0, "delta": {"reasoning_content": "hmm"}}]},
        {"choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": ""},
                            }
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]}}
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
    ]
    events = [e for c in chunks for e in encoder.feed(c)]
    events += encoder.finish(Usage(input_tokens=3, output_tokens=4))
    kinds = [e["type"] for e in events]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[4]["content_block"] == {"type": "text", "text": ""} and events[4]["index"] == 1
    assert events[8]["content_block"]["id"] == "c1"
    assert events[9]["delta"] == {"type": "input_json_delta", "partial_json": '{"a":1}'}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"]["output_tokens"] == 4 and events[-2]["usage"]["input_tokens"] == 3


def test_native_mode_passes_bodies_and_events_through() -> None:
    provider = AnthropicProvider()
    dep = Deployment(provider="anthropic", model="claude-real", api_key="k", extra={NATIVE_FLAG: True})
    request = provider.build_chat_request(dep, {**ANTHROPIC_BODY, "stream": False}, stream=False)
    sent = orjson.loads(request.body)
    assert (
        sent["model"] == "claude-real"
        and "stream" not in sent
        and sent["thinking"] == ANTHROPIC_BODY["thinking"]
    )
    body = {"id": "msg", "type": "message", "content": [], "usage": {"input_tokens": 1, "output_tokens": 2}}
    assert provider.parse_chat_response(dep, body) == body
    decoder = provider.stream_decoder(dep, caller_wants_usage=False)
    events = [
        {
            "type": "message_start",
            "message": {"id": "m", "model": "c", "usage": {"input_tokens": 5, "output_tokens": 1}},
        },
        {"type": "ping"},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    data = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
    assert decoder.feed(data) + decoder.close() == events
    assert (
        decoder.usage is not None and decoder.usage.output_tokens == 9 and decoder.finish_reasons == ["stop"]
    )
