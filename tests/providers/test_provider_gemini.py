"""Gemini (AI Studio) and Vertex AI: request / response / stream / error translation on payloads written
from the Gemini API reference (generateContent, streamGenerateContent, UsageMetadata)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from ledgerlm.errors import (
    AuthenticationError,
    MissingAPIKeyError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
)
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.gemini import GeminiProvider, VertexProvider
from ledgerlm.providers.gemini.request import gemini_request_body

GEMINI = GeminiProvider()
VERTEX = VertexProvider()
DEP = Deployment(provider="gemini", model="gemini-2.5-flash", api_key="AIza-test")
VDEP = Deployment(
    provider="vertex_ai",
    model="gemini-2.5-pro",
    extra={"vertex_project": "proj-1", "vertex_location": "europe-west4", "vertex_token": "ya29.tok"},
)


def test_request_contents_system_tools_and_generation_config() -> None:
    params = {
        "messages": [
            {"role": "system", "content": "Be terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                    {"type": "image_url", "image_url": {"url": "gs://bucket/cat.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": "cat"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"answer": "a cat"}'},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "lookup", "description": "Search", "parameters": {"type": "object"}},
            }
        ],
        "tool_choice": "required",
        "temperature": 0.1,
        "top_p": 0.5,
        "max_tokens": 64,
        "stop": ["END"],
        "n": 2,
        "seed": 7,
        "reasoning_effort": "low",
        "response_format": {"type": "json_object"},
    }
    body = gemini_request_body(params)
    assert body["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    parts = body["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": "iVBO"}}
    assert parts[2] == {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/cat.jpg"}}
    assert body["contents"][1]["parts"] == [{"functionCall": {"name": "lookup", "args": {"q": "cat"}}}]
    assert body["contents"][2]["parts"] == [
        {"functionResponse": {"name": "lookup", "response": {"answer": "a cat"}}}
    ]
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {"name": "lookup", "description": "Search", "parametersJsonSchema": {"type": "object"}}
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert body["generationConfig"] == {
        "temperature": 0.1,
        "topP": 0.5,
        "candidateCount": 2,
        "seed": 7,
        "maxOutputTokens": 64,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
    }


def test_gemini_and_vertex_urls_and_auth() -> None:
    params = {"messages": [{"role": "user", "content": "hi"}]}
    plain = GEMINI.build_chat_request(DEP, params, stream=False)
    assert (
        plain.url
        == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert plain.headers["x-goog-api-key"] == "AIza-test"
    streamed = GEMINI.build_chat_request(DEP, params, stream=True)
    assert streamed.url.endswith(":streamGenerateContent?alt=sse")
    vertex = VERTEX.build_chat_request(VDEP, params, stream=False)
    assert vertex.url == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-1/locations/europe-west4"
        "/publishers/google/models/gemini-2.5-pro:generateContent"
    )
    assert vertex.headers["authorization"] == "Bearer ya29.tok"
    assert orjson.loads(vertex.body)["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    global_dep = Deployment(
        provider="vertex_ai",
        model="m",
        api_key="tok",
        extra={"vertex_project": "p", "vertex_location": "global"},
    )
    assert VERTEX.build_chat_request(global_dep, params, stream=False).url.startswith(
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/"
    )


def test_vertex_without_project_or_token_fails_before_network(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VERTEXAI_PROJECT", "GOOGLE_CLOUD_PROJECT", "VERTEXAI_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingAPIKeyError, match="VERTEXAI_PROJECT"):
        VERTEX.build_chat_request(Deployment(provider="vertex_ai", model="m"), {"messages": []}, stream=False)
    with_project = Deployment(provider="vertex_ai", model="m", extra={"vertex_project": "p"})
    try:
        import google.auth  # noqa: F401
    except ImportError:
        with pytest.raises(MissingAPIKeyError, match="VERTEXAI_ACCESS_TOKEN"):
            VERTEX.build_chat_request(with_project, {"messages": []}, stream=False)


BODY = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Thinking about it", "thought": True},
                    {"text": "Answer."},
                    {"functionCall": {"name": "lookup", "args": {"q": "x"}}, "thoughtSignature": "sig=="},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 100,
        "cachedContentTokenCount": 60,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 30,
        "totalTokenCount": 150,
    },
    "modelVersion": "gemini-2.5-flash-001",
    "responseId": "resp-1",
}


def test_response_to_openai() -> None:
    out = GEMINI.parse_chat_response(DEP, BODY)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Answer."
    assert choice["message"]["reasoning_content"] == "Thinking about it"
    call = choice["message"]["tool_calls"][0]
    assert call["function"] == {"name": "lookup", "arguments": '{"q": "x"}'}
    assert call["provider_specific_fields"] == {"thought_signature": "sig=="}
    assert out["model"] == "gemini-2.5-flash-001" and out["id"] == "resp-1"
    usage = GEMINI.usage_from_body(BODY)
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens, usage.reasoning_tokens) == (
        100,
        60,
        50,
        30,
    )


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("OTHER", "stop")],
)
def test_finish_reasons(reason: str, finish: str) -> None:
    body = {
        "candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": reason}],
        "usageMetadata": {},
    }
    assert GEMINI.parse_chat_response(DEP, body)["choices"][0]["finish_reason"] == finish


def test_blocked_prompt_is_content_filter() -> None:
    body = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5}}
    assert GEMINI.parse_chat_response(DEP, body)["choices"][0]["finish_reason"] == "content_filter"


def _sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)


STREAM = [
    {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 1, "totalTokenCount": 10},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "r1",
    },
    {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "lo"}, {"functionCall": {"name": "f", "args": {}}}],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 9,
            "candidatesTokenCount": 4,
            "thoughtsTokenCount": 3,
            "totalTokenCount": 16,
        },
    },
]


def test_stream_chunks_usage_and_finish() -> None:
    decoder = GEMINI.stream_decoder(DEP, caller_wants_usage=True)
    data = _sse(STREAM)
    chunks: list[dict[str, Any]] = []
    for i in range(0, len(data), 5):
        chunks += decoder.feed(data[i : i + 5])
    chunks += decoder.close()
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": "Hel"}
    assert "".join(d.get("content", "") for d in deltas) == "Hello"
    assert deltas[1]["tool_calls"][0]["index"] == 0
    assert decoder.finish_reasons == ["tool_calls"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 7
    assert decoder.usage is not None and (decoder.usage.input_tokens, decoder.usage.output_tokens) == (9, 7)
    assert decoder.response_id == "r1"


def test_stream_error_chunk_raises_with_partial_usage() -> None:
    decoder = GEMINI.stream_decoder(DEP, caller_wants_usage=False)
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    with pytest.raises(ServiceUnavailableError, match="overloaded"):
        decoder.feed(_sse([STREAM[0], error]))
    assert decoder.usage is not None and decoder.usage.input_tokens == 9


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (
            400,
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid.",
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
                    ],
                }
            },
            AuthenticationError,
        ),
        (
            404,
            {"error": {"code": 404, "message": "models/x is not found", "status": "NOT_FOUND"}},
            NotFoundError,
        ),
        (429, {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}, RateLimitError),
        (
            503,
            {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}},
            ServiceUnavailableError,
        ),
    ],
)
def test_errors(status: int, body: dict[str, Any], cls: type[Exception]) -> None:
    error = VERTEX.error_from_response(VDEP, status, json.dumps(body).encode(), {"Retry-After": "3"})
    assert type(error) is cls and error.body == body and error.provider == "vertex_ai"
    assert error.retry_after == 3.0
