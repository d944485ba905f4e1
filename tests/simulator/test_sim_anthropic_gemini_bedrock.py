"""The simulator's Anthropic, Gemini / Vertex and Bedrock formats over real HTTP, read with independent
parsers (plain JSON, the SSE decoder, botocore's event-stream parser): payload shapes, usage semantics of
each format, auth, error bodies, knobs and stream faults."""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer

from ledgerlm.simulator import Simulator
from ledgerlm.sse import parse_sse_text

KNOBS = {
    "prompt_tokens": 120,
    "cached_tokens": 70,
    "cache_write_tokens": 30,
    "cache_write_1h_tokens": 10,
    "reasoning_tokens": 6,
    "content": "alpha beta gamma",
}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(models={"m-knobs": dict(KNOBS)}) as simulator:
        yield simulator


def _post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("content-type", "application/json")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


ANTHROPIC_BODY = {"model": "m-knobs", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
AUTH = {"x-api-key": "k"}


def test_anthropic_message_usage_semantics(sim: Simulator) -> None:
    status, raw, _ = _post(f"{sim.url}/v1/messages", ANTHROPIC_BODY, AUTH)
    body = json.loads(raw)
    assert status == 200 and body["type"] == "message" and body["stop_reason"] == "end_turn"
    assert [b["type"] for b in body["content"]] == ["thinking", "text"]
    usage = body["usage"]
    # input_tokens EXCLUDES cache reads and writes; the 1-hour writes are part of the writes
    assert (
        usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"] == 120
    )
    assert usage["cache_creation"] == {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 10}
    assert usage["output_tokens"] == 4 + 6


def test_anthropic_stream_events_and_cumulative_usage(sim: Simulator) -> None:
    status, raw, headers = _post(f"{sim.url}/v1/messages", {**ANTHROPIC_BODY, "stream": True}, AUTH)
    events = [(e.event, json.loads(e.data)) for e in parse_sse_text(raw)]
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"] and "ping" in names
    assert all(name == data["type"] for name, data in events)
    text = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
    assert text == "alpha beta gamma"
    assert events[0][1]["message"]["usage"]["output_tokens"] == 1
    assert events[-2][1]["usage"]["output_tokens"] == 10


@pytest.mark.parametrize(
    ("path", "body", "headers", "expect"),
    [
        ("/v1/messages", ANTHROPIC_BODY, {}, lambda b: b["error"]["type"] == "authentication_error"),
        (
            "/v1beta/models/g:generateContent",
            {"contents": []},
            {},
            lambda b: b["error"]["status"] == "UNAUTHENTICATED",
        ),
        ("/model/m/converse", {"messages": []}, {}, lambda b: "message" in b),
        (
            "/model/m/converse",
            {"messages": []},
            {
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDLEDGERLMSIM/"
                "20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host, "
                "Signature=00"
            },
            lambda b: "message" in b,
        ),
    ],
)
def test_missing_or_bad_credentials_are_401_in_each_format(
    sim: Simulator, path: str, body: Any, headers: dict[str, str], expect: Any
) -> None:
    status, raw, _ = _post(sim.url + path, body, headers)
    assert status == 401 and expect(json.loads(raw))


def test_error_knobs_and_unknown_knob(sim: Simulator) -> None:
    status, raw, headers = _post(
        f"{sim.url}/v1/messages", ANTHROPIC_BODY, {**AUTH, "x-sim": json.dumps({"error_status": 529})}
    )
    assert status == 529 and json.loads(raw)["error"]["type"] == "overloaded_error" and headers["request-id"]
    status, raw, headers = _post(
        f"{sim.url}/model/m/converse",
        {"messages": []},
        {"Authorization": "Bearer k", "x-sim": json.dumps({"error_status": 429, "retry_after": 3})},
    )
    assert (
        status == 429
        and headers["x-amzn-ErrorType"].startswith("ThrottlingException")
        and headers["Retry-After"] == "3"
    )
    status, raw, _ = _post(
        f"{sim.url}/v1/messages", ANTHROPIC_BODY, {**AUTH, "x-sim": json.dumps({"nope": 1})}
    )
    assert status == 400 and "nope" in json.loads(raw)["error"]["message"]


def test_gemini_and_vertex_usage_and_sse(sim: Simulator) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    status, raw, _ = _post(f"{sim.url}/v1beta/models/m-knobs:generateContent", body, {"x-goog-api-key": "k"})
    meta = json.loads(raw)["usageMetadata"]
    assert status == 200 and meta["promptTokenCount"] == 120 and meta["cachedContentTokenCount"] == 70
    assert meta["thoughtsTokenCount"] == 6 and meta["totalTokenCount"] == 120 + 4 + 6
    vertex = (
        "/v1/projects/p/locations/us-central1/publishers/google/models/m-knobs:streamGenerateContent?alt=sse"
    )
    status, raw, _ = _post(sim.url + vertex, body, {"Authorization": "Bearer t"})
    chunks = [json.loads(e.data) for e in parse_sse_text(raw)]
    assert status == 200 and len(chunks) == 3
    assert "".join(
        p["text"] for c in chunks for p in c["candidates"][0]["content"]["parts"] if not p.get("thought")
    ) == ("alpha beta gamma")
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["trafficType"] == "ON_DEMAND"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 4


def _frames(raw: bytes) -> list[tuple[dict[str, Any], Any]]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return [(m.headers, json.loads(m.payload)) for m in buffer]


def test_bedrock_converse_stream_frames_decode_with_botocore(sim: Simulator) -> None:
    status, raw, headers = _post(
        f"{sim.url}/model/m-knobs/converse-stream",
        {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
        {"Authorization": "Bearer k"},
    )
    assert status == 200 and headers["Content-Type"] == "application/vnd.amazon.eventstream"
    frames = _frames(raw)
    kinds = [h[":event-type"] for h, _ in frames]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    usage = frames[-1][1]["usage"]
    assert usage["inputTokens"] + usage["cacheReadInputTokens"] + usage["cacheWriteInputTokens"] == 120
    assert usage["totalTokens"] == 120 + usage["outputTokens"]


def test_bedrock_invoke_stream_wraps_anthropic_events(sim: Simulator) -> None:
    status, raw, _ = _post(
        f"{sim.url}/model/m-knobs/invoke-with-response-stream",
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 9,
            "messages": [{"role": "user", "content": "hi"}],
        },
        {"Authorization": "Bearer k"},
    )
    inner = [json.loads(base64.b64decode(payload["bytes"])) for headers, payload in _frames(raw)]
    assert status == 200 and inner[0]["type"] == "message_start" and inner[-1]["type"] == "message_stop"
    assert inner[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == 10


def test_bedrock_stream_exception_frame(sim: Simulator) -> None:
    status, raw, _ = _post(
        f"{sim.url}/model/m/converse-stream",
        {"messages": []},
        {"Authorization": "Bearer k", "x-sim": json.dumps({"stream_error_after_chunks": 1})},
    )
    frames = _frames(raw)
    assert status == 200 and len(frames) == 2
    assert frames[-1][0][":message-type"] == "exception"
    assert frames[-1][0][":exception-type"] == "modelStreamErrorException"


def test_break_after_chunks_cuts_the_connection(sim: Simulator) -> None:
    host, port = sim.url.removeprefix("http://").split(":")
    body = json.dumps({**ANTHROPIC_BODY, "stream": True}).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: {host}\r\nx-api-key: k\r\ncontent-type: application/json\r\n"
        f"x-sim: {json.dumps({'break_after_chunks': 2})}\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(head.encode() + body)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    assert b"message_start" in received and b"message_stop" not in received
