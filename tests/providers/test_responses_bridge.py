"""The Responses API <-> chat completions bridge (``ledgerlm.providers.openai.responses_from_chat``) on
documented shapes: input items (messages, function calls and their outputs) become chat messages, tools
and text formats map, unsupported parts are refused; a chat completion with tool calls becomes a
``response`` with ``function_call`` items; a chat stream becomes the documented event sequence with
usage on ``response.completed``."""

from __future__ import annotations

from typing import Any

import pytest

from ledgerlm.providers.openai.responses import responses_usage
from ledgerlm.providers.openai.responses_from_chat import ResponsesEventEncoder, chat_request, response_object
from ledgerlm.types import Usage


def test_request_items_tools_and_formats() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "instructions": "Be brief.",
        "input": [
            {"role": "developer", "content": "dev note"},
            {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
            {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"city":"Oslo"}'},
            {"type": "function_call_output", "call_id": "c1", "output": "cold"},
            {"type": "reasoning", "summary": []},
        ],
        "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "weather"},
        "text": {
            "format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": True}
        },
        "reasoning": {"effort": "low"},
        "max_output_tokens": 99,
    }
    out = chat_request(body)
    roles = [m["role"] for m in out["messages"]]
    assert roles == ["system", "system", "user", "assistant", "tool"]
    assert out["messages"][2]["content"] == [{"type": "text", "text": "weather?"}]
    assert out["messages"][3]["tool_calls"][0]["function"] == {
        "name": "weather",
        "arguments": '{"city":"Oslo"}',
    }
    assert out["messages"][4] == {"role": "tool", "tool_call_id": "c1", "content": "cold"}
    assert out["tools"] == [
        {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    ]
    assert out["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert out["response_format"]["json_schema"]["name"] == "w"
    assert out["reasoning_effort"] == "low" and out["max_tokens"] == 99


@pytest.mark.parametrize(
    "body",
    [
        {"input": "x", "tools": [{"type": "web_search"}]},
        {"input": "x", "previous_response_id": "resp_1"},
        {"input": [{"type": "computer_call_output"}]},
        {"input": []},
    ],
)
def test_request_that_a_chat_api_cannot_express_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        chat_request(body)


def test_response_object_with_tool_calls_and_usage() -> None:
    completion = {
        "choices": [
            {
                "message": {
                    "content": "calling",
                    "tool_calls": [{"id": "c9", "function": {"name": "f", "arguments": "{}"}}],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    usage = Usage(input_tokens=50, cache_read_tokens=20, output_tokens=9, reasoning_tokens=4)
    out = response_object(completion, usage, "group", {"input": "x"})
    assert [i["type"] for i in out["output"]] == ["message", "function_call"]
    assert out["output"][1]["call_id"] == "c9" and out["status"] == "completed"
    assert out["usage"] == {
        "input_tokens": 50,
        "input_tokens_details": {"cached_tokens": 20},
        "output_tokens": 9,
        "output_tokens_details": {"reasoning_tokens": 4},
        "total_tokens": 59,
    }
    assert responses_usage(out) == usage, "the encoded usage reads back to the same canonical usage"
    truncated = response_object(
        {"choices": [{"message": {"content": "x"}, "finish_reason": "length"}]}, usage, "g", {}
    )
    assert truncated["status"] == "incomplete" and truncated["incomplete_details"] == {
        "reason": "max_output_tokens"
    }


def test_event_stream_sequence() -> None:
    encoder = ResponsesEventEncoder("group", {"input": "x"})
    events: list[dict[str, Any]] = []
    for piece in ("Hel", "lo"):
        events += encoder.feed({"choices": [{"index": 0, "delta": {"content": piece}}]})
    events += encoder.feed(
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]
                    },
                    "finish_reason": "stop",
                }
            ]
        }
    )
    events += encoder.finish(Usage(input_tokens=3, output_tokens=2))
    kinds = [e["type"] for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds.count("response.output_text.delta") == 2 and kinds[-1] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == "Hello"
    assert final["output"][1]["type"] == "function_call" and final["usage"]["total_tokens"] == 5
