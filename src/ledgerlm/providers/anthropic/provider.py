"""Anthropic Messages API provider (``anthropic/claude-...``).

Wire format: ``POST {api_base}/v1/messages`` with headers ``x-api-key`` and
``anthropic-version: 2023-06-01`` (https://docs.anthropic.com/en/api/messages). Requests are translated
from the OpenAI chat format (``request``), responses and stream events back to it
(``response``, ``stream``); usage is mapped by ``ledgerlm.usage.anthropic`` (the provider table's
``usage_mapper``). A native mode
(``build_messages_request``) sends a body that is already in Anthropic format, for the proxy's
``/v1/messages`` pass-through.

Errors (https://docs.anthropic.com/en/api/errors): the body is
``{"type": "error", "error": {"type", "message"}, "request_id"}``; 400 invalid_request_error,
401 authentication_error, 403 permission_error, 404 not_found_error, 413 request_too_large,
429 rate_limit_error (``retry-after`` header, seconds), 500 api_error, 529 overloaded_error
(-> ``ServiceUnavailableError``). The same ``error`` object can arrive as an SSE ``error`` event.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import orjson

from ledgerlm.errors import (
    APIError,
    ContextWindowExceededError,
    MissingAPIKeyError,
    ServiceUnavailableError,
    error_for_status,
)
from ledgerlm.providers.anthropic.request import anthropic_request_body
from ledgerlm.providers.anthropic.response import openai_completion
from ledgerlm.providers.base import Deployment, HTTPRequest, Provider
from ledgerlm.types import Usage
from ledgerlm.usage.media import media_usage

__all__ = [
    "ANTHROPIC_VERSION",
    "COUNT_TOKENS_FLAG",
    "NATIVE_FLAG",
    "AnthropicProvider",
    "anthropic_error",
    "messages_url",
    "resolve_api_key",
    "retry_after_seconds",
]

ANTHROPIC_VERSION = "2023-06-01"
"""The ``anthropic-version`` header value sent on every request."""

NATIVE_FLAG = "anthropic_native"
"""``deployment.extra[NATIVE_FLAG] = True``: native mode. The call body is already an Anthropic Messages
request (sent as-is), ``parse_chat_response`` returns the Anthropic body unchanged and the stream decoder
yields the Anthropic events themselves (dicts with ``type``) instead of OpenAI chunks; usage, finish
reasons and in-stream errors work as in the translated mode. Used by the proxy's ``/v1/messages``."""

COUNT_TOKENS_FLAG = "anthropic_count_tokens"
"""With ``NATIVE_FLAG``: ``POST /v1/messages/count_tokens`` (Anthropic "Count message tokens"); the
body keeps only the fields that endpoint takes; the answer ``{"input_tokens": n}`` is a free call."""
_COUNT_TOKENS_FIELDS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers"}
)


def messages_url(api_base: str) -> str:
    """``{api_base}/v1/messages``; an ``api_base`` already ending in ``/v1`` gets ``/messages``."""
    base = api_base.rstrip("/")
    return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"


def resolve_api_key(provider: Provider, deployment: Deployment) -> str:
    """The deployment's key, else the first of ``provider.api_key_env`` that is set; raises
    ``MissingAPIKeyError`` naming the variable to set (no network)."""
    if deployment.api_key:
        return deployment.api_key
    for env in provider.api_key_env:
        value = os.environ.get(env)
        if value:
            return value
    raise MissingAPIKeyError(
        f"no API key for provider {provider.name!r}: set the environment variable "
        f"{provider.api_key_env[0]} or pass api_key=...",
        provider=provider.name,
        model=deployment.model,
        param="api_key",
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The ``retry-after`` header as seconds (``retry-after-ms`` preferred), or ``None``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return float(lowered[name]) * scale
        except (KeyError, ValueError):
            continue
    return None


def anthropic_error(
    status: int,
    body: Any,
    *,
    provider: str,
    model: str | None,
    headers: Mapping[str, str] | None = None,
) -> APIError:
    """Map an Anthropic error (HTTP status + parsed body, or an SSE ``error`` event) to ``APIError``."""
    headers = dict(headers or {})
    error = body.get("error") if isinstance(body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    kind = str(error.get("type") or "")
    message = str(error.get("message") or f"HTTP {status}")
    cls = error_for_status(status)
    if kind == "overloaded_error":
        cls = ServiceUnavailableError
    elif status == 400 and "prompt is too long" in message.lower():
        cls = ContextWindowExceededError
    code = "model_not_found" if status == 404 and message.startswith("model:") else None
    request_id = body.get("request_id") if isinstance(body, Mapping) else None
    lowered = {k.lower(): v for k, v in headers.items()}
    return cls(
        f"{provider} {kind or 'error'} ({status}): {message}",
        provider=provider,
        model=model,
        body=body,
        request_id=request_id or lowered.get("request-id"),
        headers=headers,
        retry_after=retry_after_seconds(headers),
        code=code,
        # overloaded: Anthropic's own 529 (not the class's 503) in spend records and proxy answers
        status_code=529 if kind == "overloaded_error" else None,
    )


def _parse_error_body(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")


class AnthropicProvider(Provider):
    """The Anthropic Messages API. ``deployment.extra``: ``anthropic_beta`` (header value, optional),
    ``extra_headers`` (dict, optional)."""

    name = "anthropic"
    api_key_env = ("ANTHROPIC_API_KEY",)
    default_api_base = "https://api.anthropic.com"

    def headers(self, deployment: Deployment) -> dict[str, str]:
        """Request headers: ``x-api-key``, ``anthropic-version``, ``content-type`` (+ beta, extras)."""
        headers = {
            "content-type": "application/json",
            "anthropic-version": ANTHROPIC_VERSION,
            "x-api-key": resolve_api_key(self, deployment),
        }
        beta = deployment.extra.get("anthropic_beta")
        if beta:
            headers["anthropic-beta"] = str(beta)
        headers.update({str(k): str(v) for k, v in (deployment.extra.get("extra_headers") or {}).items()})
        return headers

    def build_chat_request(
        self, deployment: Deployment, params: Mapping[str, Any], *, stream: bool
    ) -> HTTPRequest:
        """POST /v1/messages with the translated body (see ``anthropic_request_body``); in native mode
        ``params`` is already the Anthropic body."""
        if deployment.extra.get(NATIVE_FLAG):
            return self.build_messages_request(deployment, params, stream=stream)
        body = anthropic_request_body(deployment.model, params, stream=stream)
        request = self.build_messages_request(deployment, body, stream=stream)
        request.headers.update({str(k): str(v) for k, v in (params.get("extra_headers") or {}).items()})
        return request

    def build_messages_request(
        self, deployment: Deployment, body: Mapping[str, Any], *, stream: bool
    ) -> HTTPRequest:
        """Native mode: POST an Anthropic-format ``body`` as-is (``model`` set to the deployment's)."""
        native = dict(body)
        native["model"] = deployment.model
        if stream:
            native["stream"] = True
        else:
            native.pop("stream", None)
        base = deployment.api_base or self.default_api_base or ""
        url = messages_url(base)
        if deployment.extra.get(COUNT_TOKENS_FLAG):
            native = {k: v for k, v in native.items() if k in _COUNT_TOKENS_FIELDS}
            url += "/count_tokens"
        return HTTPRequest("POST", url, self.headers(deployment), orjson.dumps(native))

    def parse_chat_response(self, deployment: Deployment, body: Mapping[str, Any]) -> dict[str, Any]:
        if deployment.extra.get(NATIVE_FLAG):
            return dict(body)
        return openai_completion(body, provider=self.name)

    def usage_from_body(self, body: Mapping[str, Any]) -> Usage:
        if set(body) == {"input_tokens"}:  # a token count (count_tokens): a free call, not billed tokens
            return media_usage(body) or Usage()
        return super().usage_from_body(body)

    def error_from_response(
        self, deployment: Deployment, status: int, body: bytes, headers: Mapping[str, str]
    ) -> APIError:
        return anthropic_error(
            status, _parse_error_body(body), provider=self.name, model=deployment.model, headers=headers
        )
