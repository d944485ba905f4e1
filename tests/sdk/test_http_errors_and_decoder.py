"""Unit tests: error mapping helpers and the OpenAI stream decoder (pure functions, no network)."""

from __future__ import annotations

import email.utils

import orjson
import pytest

from ledgerlm import errors
from ledgerlm.providers.http_errors import (
    error_from_openai_body,
    error_from_stream_event,
    parse_retry_after,
    request_id_from,
    safe_headers,
)
from ledgerlm.providers.openai.stream import OpenAIStreamDecoder


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"Retry-After": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "-3"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0


def test_request_id_and_safe_headers() -> None:
    assert request_id_from({"x-request-id": "req_1"}) == "req_1"
    assert request_id_from({"apim-request-id": "az-1"}) == "az-1"
    assert request_id_from({}) is None
    headers = safe_headers({"Set-Cookie": "a=b", "X-Request-Id": "r", "api-key": "secret"})
    assert headers == {"x-request-id": "r"}


def test_error_from_openai_body() -> None:
    body = orjson.dumps(
        {
            "error": {
                "message": "Too long",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
                "param": "messages",
            }
        }
    )
    err = error_from_openai_body("openai", "gpt-4o", 400, body, {"x-request-id": "req_9", "retry-after": "1"})
    assert type(err) is errors.ContextWindowExceededError
    assert (err.code, err.param, err.request_id, err.retry_after) == (
        "context_length_exceeded",
        "messages",
        "req_9",
        1.0,
    )
    assert err.message == "openai returned HTTP 400: Too long"
    plain = error_from_openai_body("groq", "m", 502, b"<html>bad gateway</html>", {})
    assert type(plain) is errors.InternalServerError and plain.status_code == 502
    assert plain.body == "<html>bad gateway</html>" and "bad gateway" in plain.message
    assert type(error_from_openai_body("x", "m", 418, b"", {})) is errors.BadRequestError
    azure = error_from_openai_body(
        "azure", "d", 401, b'{"error": {"code": "401", "message": "Access denied"}}', {}
    )
    assert type(azure) is errors.AuthenticationError and azure.code == "401"


def test_error_from_stream_event() -> None:
    assert (
        type(error_from_stream_event("p", "m", {"error": {"message": "x", "type": "rate_limit_error"}}))
        is errors.RateLimitError
    )
    assert (
        type(error_from_stream_event("p", "m", {"error": {"message": "x", "code": 503}}))
        is errors.ServiceUnavailableError
    )
    err = error_from_stream_event("p", "m", {"error": "plain text"})
    assert type(err) is errors.InternalServerError and "plain text" in err.message


def _sse(*chunks: object) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


CHUNK = {
    "id": "c1",
    "object": "chat.completion.chunk",
    "model": "m",
    "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
}
END = {
    "id": "c1",
    "object": "chat.completion.chunk",
    "model": "m",
    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
}
USAGE = {
    "id": "c1",
    "object": "chat.completion.chunk",
    "model": "m",
    "choices": [],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}


@pytest.mark.parametrize("wants_usage", [True, False])
def test_decoder_usage_chunk_visibility(wants_usage: bool) -> None:
    decoder = OpenAIStreamDecoder("openai", "m", caller_wants_usage=wants_usage)
    chunks = decoder.decode(_sse(CHUNK, END, USAGE)) + decoder.decode(b"")
    assert len(chunks) == (3 if wants_usage else 2)
    assert decoder.usage is not None and decoder.usage.total_tokens == 7
    assert decoder.done and decoder.finish_reasons == ["stop"] and decoder.response_id == "c1"
    assert decoder.delta_count == 1


def test_decoder_byte_splits_comments_multiline_and_missing_blank_line() -> None:
    raw = b": keep-alive\r\n\r\n" + _sse(CHUNK, END)[:-2]  # the last event lacks its blank line
    whole = OpenAIStreamDecoder("openai", "m", caller_wants_usage=True)
    expected = whole.feed(raw) + whole.close()
    for size in (1, 3, 17):
        decoder = OpenAIStreamDecoder("openai", "m", caller_wants_usage=True)
        got = []
        for i in range(0, len(raw), size):
            got += decoder.feed(raw[i : i + size])
        got += decoder.close()
        assert got == expected == [CHUNK, END]
    multi = b'data: {"id": "c1", "choices": [],\ndata:  "object": "x"}\n\n'
    assert OpenAIStreamDecoder("openai", "m", caller_wants_usage=True).feed(multi) == [
        {"id": "c1", "choices": [], "object": "x"}
    ]


def test_decoder_usage_beside_choices_is_stripped_when_not_asked() -> None:
    last = {**END, "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
    decoder = OpenAIStreamDecoder("mistral", "m", caller_wants_usage=False)
    chunks = decoder.feed(_sse(CHUNK, last))
    assert "usage" not in chunks[-1] and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert decoder.usage is not None and decoder.usage.input_tokens == 3


def test_decoder_groq_x_groq_usage() -> None:
    last = {
        **END,
        "x_groq": {"id": "req", "usage": {"prompt_tokens": 18, "completion_tokens": 73, "total_tokens": 91}},
    }
    decoder = OpenAIStreamDecoder("groq", "m", caller_wants_usage=False)
    decoder.feed(_sse(CHUNK, last))
    assert decoder.usage is not None and decoder.usage.output_tokens == 73


def test_decoder_errors() -> None:
    decoder = OpenAIStreamDecoder("openai", "m", caller_wants_usage=False)
    decoder.feed(_sse(CHUNK)[: -len(b"data: [DONE]\n\n")])
    with pytest.raises(errors.InternalServerError, match="overloaded"):
        decoder.feed(b'event: error\ndata: {"error": {"message": "overloaded", "type": "server_error"}}\n\n')
    with pytest.raises(errors.RateLimitError):
        OpenAIStreamDecoder("openrouter", "m", caller_wants_usage=False).feed(
            b'data: {"error": {"message": "slow", "code": 429}}\n\n'
        )
    with pytest.raises(errors.APIResponseValidationError, match="not JSON"):
        OpenAIStreamDecoder("openai", "m", caller_wants_usage=False).feed(b"data: {oops\n\n")
    with pytest.raises(errors.APIResponseValidationError, match="not a JSON object"):
        OpenAIStreamDecoder("openai", "m", caller_wants_usage=False).feed(b"data: [1, 2]\n\n")
