"""Helpers every provider uses to map an upstream error response onto ``ledgerlm.errors``.

Pure functions: ``parse_retry_after`` (RFC 9110 ``Retry-After``: delay-seconds or an HTTP date, and
OpenAI's ``retry-after-ms``), ``request_id_from`` (the provider's request id header), ``safe_headers``
(response headers minus cookies) and ``error_from_openai_body`` (the OpenAI error body
``{"error": {"message", "type", "param", "code"}}``, also used by Azure, Groq, DeepSeek, Mistral,
OpenRouter, xAI and OpenAI-compatible servers; https://platform.openai.com/docs/guides/error-codes).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

import orjson

from ledgerlm.errors import (
    APIError,
    ContextWindowExceededError,
    InternalServerError,
    RateLimitError,
    ServiceUnavailableError,
    error_for_status,
)

__all__ = [
    "error_from_openai_body",
    "error_from_stream_event",
    "parse_retry_after",
    "request_id_from",
    "safe_headers",
]

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "apim-request-id", "x-ms-request-id", "cf-ray")
_DROPPED_HEADERS = frozenset({"set-cookie", "authorization", "api-key", "x-api-key", "cookie"})
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_TYPE_CLASSES: dict[str, type[APIError]] = {
    "rate_limit_error": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "server_error": InternalServerError,
    "api_error": InternalServerError,
    "overloaded_error": ServiceUnavailableError,
    "service_unavailable": ServiceUnavailableError,
}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return value


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date), or ``None``.

    Never negative; an unparseable value is ``None``.
    """
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = _header(headers, "retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def request_id_from(headers: Mapping[str, str]) -> str | None:
    """The provider's request id from the usual headers (``x-request-id``, Azure ``apim-request-id``)."""
    for name in _REQUEST_ID_HEADERS:
        value = _header(headers, name)
        if value:
            return value
    return None


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Response headers as a plain dict (lower-case names) without cookies or credentials."""
    return {k.lower(): v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}


def _parse_body(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return body.decode("utf-8", errors="replace")


def _error_fields(parsed: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """``(message, type, code, param)`` of an OpenAI-style error body; ``None`` where absent."""
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(err, str):
        return err, None, None, None
    if not isinstance(err, dict):
        message = parsed.get("message") if isinstance(parsed, dict) else None
        return (message if isinstance(message, str) else None), None, None, None
    message, etype, code, param = err.get("message"), err.get("type"), err.get("code"), err.get("param")
    return (
        message if isinstance(message, str) else None,
        etype if isinstance(etype, str) else None,
        None if code is None else str(code),
        param if isinstance(param, str) else None,
    )


def error_from_openai_body(
    provider: str, model: str | None, status: int, body: bytes, headers: Mapping[str, str]
) -> APIError:
    """Map a non-2xx OpenAI-style response to the exception class of ``status``.

    The message names the provider and status and carries the provider's own message; the parsed
    body (or its text when not JSON) is kept in ``.body``. A 400 with code ``context_length_exceeded``
    becomes ``ContextWindowExceededError``.
    """
    parsed = _parse_body(body)
    message, _type, code, param = _error_fields(parsed)
    if message is None:
        text = parsed if isinstance(parsed, str) else ""
        message = text[:500] or "no error message in the response body"
    cls = error_for_status(status)
    if status == 400 and code in _CONTEXT_CODES:
        cls = ContextWindowExceededError
    return cls(
        f"{provider} returned HTTP {status}: {message}",
        provider=provider,
        model=model,
        body=parsed,
        request_id=request_id_from(headers),
        status_code=status,
        headers=safe_headers(headers),
        retry_after=parse_retry_after(headers),
        code=code if code is not None else cls.default_code,
        param=param,
    )


def error_from_stream_event(provider: str, model: str | None, payload: Any) -> APIError:
    """Map an error sent inside a 200 stream (``event: error`` or a ``{"error": ...}`` chunk).

    The class comes from a numeric ``code`` (HTTP status) when present, else from the error ``type``;
    default ``InternalServerError``.
    """
    message, etype, code, param = _error_fields(payload)
    cls: type[APIError] = InternalServerError
    status: int | None = None
    if code is not None and code.isdigit():
        status = int(code)
        cls = error_for_status(status)
    elif etype in _TYPE_CLASSES:
        cls = _TYPE_CLASSES[etype]
    return cls(
        f"{provider} sent an error inside the stream: {message or 'no message'}",
        provider=provider,
        model=model,
        body=payload,
        status_code=status,
        code=code,
        param=param,
    )
