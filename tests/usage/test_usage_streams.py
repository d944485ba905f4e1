"""Stream accumulators and recorded-stream parsing: streamed usage equals the non-streamed usage."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.eventstream import EventStreamBuffer

from ledgerlm.usage import UsageNotFoundError, usage_from_anthropic, usage_from_body, usage_from_stream
from ledgerlm.usage.recorded import NotAResponseError, detect_provider, parse_recorded, recorded_model

ANTHROPIC_SSE = (
    "event: message_start\n"
    'data: {"type":"message_start","message":{"model":"claude-haiku-4-5","usage":'
    '{"input_tokens":4,"cache_read_input_tokens":2455,"cache_creation_input_tokens":0,"output_tokens":1}}}\n\n'
    'event: ping\ndata: {"type":"ping"}\n\n'
    'event: message_delta\ndata: {"type":"message_delta","delta":{},"usage":{"output_tokens":10}}\n\n'
    'event: message_delta\ndata: {"type":"message_delta","delta":{},"usage":{"output_tokens":23}}\n\n'
    'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


def test_anthropic_stream_delta_usage_is_cumulative() -> None:
    rec = parse_recorded(ANTHROPIC_SSE)
    assert detect_provider(rec) == "anthropic" and recorded_model(rec) == "claude-haiku-4-5"
    streamed = usage_from_stream("anthropic", rec.events)
    body = usage_from_anthropic({"input_tokens": 4, "cache_read_input_tokens": 2455, "output_tokens": 23})
    assert streamed == body  # 23 is the total, not 1 + 10 + 23
    assert (streamed.input_tokens, streamed.output_tokens) == (2459, 23)


def test_anthropic_delta_carrying_input_and_cache_replaces_start_values() -> None:
    events = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 10, "output_tokens": 1}}},
        {
            "type": "message_delta",
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 4},
        },
    ]
    u = usage_from_stream("anthropic", events)
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens) == (100, 90, 4)


def test_openai_stream_usage_chunk_and_missing_usage() -> None:
    sse = (
        'data: {"object":"chat.completion.chunk","model":"gpt-4o","choices":[{"delta":{"content":"hi"}}]}\n\n'
        'data: {"object":"chat.completion.chunk","model":"gpt-4o","choices":[],"usage":'
        '{"prompt_tokens":16,"completion_tokens":10,"total_tokens":26}}\n\n'
        "data: [DONE]\n\n"
    )
    rec = parse_recorded(sse.encode())
    u = usage_from_stream("openai", rec.events)
    assert (u.input_tokens, u.output_tokens) == (16, 10)
    with pytest.raises(UsageNotFoundError):
        usage_from_stream("openai", rec.events[:1])


def test_responses_api_stream_completed_event() -> None:
    events = [
        {"type": "response.created", "response": {"model": "gpt-5", "usage": None, "service_tier": "auto"}},
        {
            "type": "response.completed",
            "response": {
                "model": "gpt-5",
                "service_tier": "flex",
                "usage": {
                    "input_tokens": 53,
                    "output_tokens": 469,
                    "output_tokens_details": {"reasoning_tokens": 448},
                },
            },
        },
    ]
    u = usage_from_stream("openai", events)
    assert (u.input_tokens, u.output_tokens, u.reasoning_tokens, u.service_tier) == (53, 469, 448, "flex")


def test_gemini_stream_last_usage_and_json_array() -> None:
    chunks = [
        {"candidates": [], "usageMetadata": {"promptTokenCount": 13, "candidatesTokenCount": 50}},
        {
            "candidates": [],
            "usageMetadata": {"promptTokenCount": 13, "candidatesTokenCount": 63, "thoughtsTokenCount": 75},
        },
    ]
    rec = parse_recorded(json.dumps(chunks))
    assert rec.is_stream and detect_provider(rec) == "gemini"
    u = usage_from_stream("gemini", rec.events)
    assert u == usage_from_body("gemini", chunks[-1])
    assert (u.input_tokens, u.output_tokens, u.reasoning_tokens) == (13, 138, 75)


def _frame(event_type: str, payload: dict[str, object]) -> bytes:
    """One AWS event-stream frame built by hand (prelude, headers, payload, CRCs)."""
    import binascii
    import struct

    headers = b""
    for name, value in ((":event-type", event_type), (":message-type", "event")):
        headers += (
            bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
        )
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def test_bedrock_binary_converse_stream() -> None:
    usage = {"inputTokens": 13, "outputTokens": 82, "totalTokens": 95}
    data = _frame("messageStart", {"role": "assistant"}) + _frame("metadata", {"usage": usage, "metrics": {}})
    buffer = EventStreamBuffer()  # the hand-built frames are valid for botocore too
    buffer.add_data(data)
    assert len(list(buffer)) == 2
    rec = parse_recorded(data)
    assert detect_provider(rec) == "bedrock"
    u = usage_from_stream("bedrock", rec.events)
    assert u == usage_from_body("bedrock", {"usage": usage})


def test_bedrock_invoke_stream_anthropic_chunks() -> None:
    def chunk(obj: dict[str, object]) -> dict[str, object]:
        return {"chunk": {"bytes": base64.b64encode(json.dumps(obj).encode()).decode()}}

    events = [
        chunk({"type": "message_start", "message": {"usage": {"input_tokens": 16, "output_tokens": 1}}}),
        chunk({"type": "message_delta", "usage": {"output_tokens": 21}}),
        chunk(
            {
                "type": "message_stop",
                "amazon-bedrock-invocationMetrics": {"inputTokenCount": 16, "outputTokenCount": 21},
            }
        ),
    ]
    u = usage_from_stream("bedrock", events)
    assert (u.input_tokens, u.output_tokens) == (16, 21)
    only_metrics = usage_from_stream("bedrock", events[2:])
    assert only_metrics == u


def test_not_a_response() -> None:
    with pytest.raises(NotAResponseError):
        parse_recorded("hello world")
    with pytest.raises(NotAResponseError):
        parse_recorded("")
    with pytest.raises(NotAResponseError):
        parse_recorded(b"\x00\x00\x00\x20" + b"\x00" * 28)  # a frame with bad CRCs
