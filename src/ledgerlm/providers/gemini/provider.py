"""Gemini providers: Google AI Studio (``gemini/...``) and Vertex AI (``vertex_ai/...``).

Both speak ``generateContent`` / ``streamGenerateContent?alt=sse`` with the same body
(https://ai.google.dev/api/generate-content); they differ in URL and auth:

* AI Studio: ``{api_base}/v1beta/models/{model}:generateContent``, header ``x-goog-api-key``
  (env ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``).
* Vertex AI: ``{api_base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}
  :generateContent`` with ``Authorization: Bearer {token}``; ``api_base`` defaults to
  ``https://{location}-aiplatform.googleapis.com`` (``https://aiplatform.googleapis.com`` for location
  ``global``). See ``VertexProvider`` for where project, location and token come from.

Errors (https://cloud.google.com/apis/design/errors): ``{"error": {"code", "message", "status",
"details"}}``; an invalid API key is a 400 with reason ``API_KEY_INVALID`` (mapped to
``AuthenticationError``). The same object can arrive as a chunk inside a 200 stream.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from ledgerlm.errors import APIError, AuthenticationError, MissingAPIKeyError, error_for_status
from ledgerlm.providers.anthropic import resolve_api_key, retry_after_seconds
from ledgerlm.providers.base import Deployment, HTTPRequest, Provider
from ledgerlm.providers.count_tokens import (
    count_answer,
    count_usage,
    is_count,
    vertex_claude_count_body,
)
from ledgerlm.providers.gemini.count import gemini_count_body
from ledgerlm.providers.gemini.request import gemini_request_body
from ledgerlm.providers.gemini.response import openai_completion
from ledgerlm.types import Usage

__all__ = ["GeminiProvider", "VertexProvider", "gemini_error"]


def gemini_error(
    status: int, body: Any, *, provider: str, model: str | None, headers: Mapping[str, str] | None = None
) -> APIError:
    """Map a Google API error (HTTP status + parsed body, or an error chunk in a stream) to ``APIError``."""
    error = body.get("error") if isinstance(body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    message = str(error.get("message") or f"HTTP {status}")
    reasons = {str(d.get("reason")) for d in error.get("details") or [] if isinstance(d, Mapping)}
    cls = AuthenticationError if "API_KEY_INVALID" in reasons else error_for_status(status)
    return cls(
        f"{provider} {error.get('status') or 'error'} ({status}): {message}",
        provider=provider,
        model=model,
        body=body,
        headers=dict(headers or {}),
        retry_after=retry_after_seconds(headers or {}),
        code="model_not_found" if status == 404 else None,
    )


class _GoogleProvider(Provider):
    """What AI Studio and Vertex share: body, parsing, errors (usage and stream decoder: the provider
    table's, ``ledgerlm.usage.gemini`` and ``stream.GeminiSSEDecoder``)."""

    def base_url(self, deployment: Deployment) -> str:
        """Everything up to ``:generateContent`` (no trailing slash)."""
        raise NotImplementedError

    def auth_headers(self, deployment: Deployment) -> dict[str, str]:
        """The credential header."""
        raise NotImplementedError

    def build_chat_request(
        self, deployment: Deployment, params: Mapping[str, Any], *, stream: bool
    ) -> HTTPRequest:
        """POST ``:generateContent`` (or ``:streamGenerateContent?alt=sse``) with the translated body;
        ``:countTokens`` for a token count (``ledgerlm.providers.count_tokens``)."""
        if is_count(deployment.extra):
            url, body = self.count_request(deployment, params)
        else:
            body = gemini_request_body(params)
            method = "streamGenerateContent?alt=sse" if stream else "generateContent"
            url = f"{self.base_url(deployment)}:{method}"
        headers = {"content-type": "application/json", **self.auth_headers(deployment)}
        headers.update({str(k): str(v) for k, v in (params.get("extra_headers") or {}).items()})
        return HTTPRequest("POST", url, headers, orjson.dumps(body))

    def count_request(self, deployment: Deployment, body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """``(url, body)`` of ``models.countTokens`` for an Anthropic Messages ``body``."""
        vertex = isinstance(self, VertexProvider)
        return f"{self.base_url(deployment)}:countTokens", gemini_count_body(
            deployment.model, body, vertex=vertex
        )

    def parse_chat_response(self, deployment: Deployment, body: Mapping[str, Any]) -> dict[str, Any]:
        if is_count(deployment.extra):
            return count_answer(body)
        return openai_completion(body, model=deployment.model, provider=self.name)

    def usage_from_body(self, body: Mapping[str, Any]) -> Usage:
        if "totalTokens" in body or set(body) == {"input_tokens"}:  # countTokens: a free call
            return count_usage(body)
        return super().usage_from_body(body)

    def error_from_response(
        self, deployment: Deployment, status: int, body: bytes, headers: Mapping[str, str]
    ) -> APIError:
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = body.decode("utf-8", "replace")
        return gemini_error(status, parsed, provider=self.name, model=deployment.model, headers=headers)


class GeminiProvider(_GoogleProvider):
    """Google AI Studio (Gemini API) with an API key in ``x-goog-api-key``."""

    name = "gemini"
    api_key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    default_api_base = "https://generativelanguage.googleapis.com"

    def base_url(self, deployment: Deployment) -> str:
        base = (deployment.api_base or self.default_api_base or "").rstrip("/")
        version = deployment.api_version or "v1beta"
        return f"{base}/{version}/models/{quote(deployment.model, safe='')}"

    def auth_headers(self, deployment: Deployment) -> dict[str, str]:
        return {"x-goog-api-key": resolve_api_key(self, deployment)}


class VertexProvider(_GoogleProvider):
    """Vertex AI Gemini models.

    ``deployment.extra`` (or environment): ``vertex_project`` (``VERTEXAI_PROJECT``,
    ``GOOGLE_CLOUD_PROJECT``), ``vertex_location`` (``VERTEXAI_LOCATION``, default ``us-central1``),
    ``vertex_token`` (``VERTEXAI_ACCESS_TOKEN``; ``deployment.api_key`` is also taken as the token);
    without a token, google-auth application-default credentials are used when ``google-auth`` is
    installed (``vertex_credentials``: a service-account JSON file path, optional).
    """

    name = "vertex_ai"
    api_key_env = ()
    default_api_base = None
    token_env = "VERTEXAI_ACCESS_TOKEN"

    def __init__(self) -> None:
        self._credentials: Any = None

    def _setting(self, deployment: Deployment, key: str, *env: str) -> str | None:
        value = deployment.extra.get(key)
        if value:
            return str(value)
        return next((os.environ[name] for name in env if os.environ.get(name)), None)

    def base_url(self, deployment: Deployment) -> str:
        project = self._setting(deployment, "vertex_project", "VERTEXAI_PROJECT", "GOOGLE_CLOUD_PROJECT")
        if not project:
            raise MissingAPIKeyError(
                "vertex_ai needs a project: set vertex_project in the deployment or VERTEXAI_PROJECT",
                provider=self.name,
                model=deployment.model,
            )
        location = self._setting(deployment, "vertex_location", "VERTEXAI_LOCATION") or "us-central1"
        host = (
            "aiplatform.googleapis.com" if location == "global" else f"{location}-aiplatform.googleapis.com"
        )
        base = (deployment.api_base or f"https://{host}").rstrip("/")
        version = deployment.api_version or "v1"
        model = quote(deployment.model, safe="")
        return f"{base}/{version}/projects/{project}/locations/{location}/publishers/google/models/{model}"

    def count_request(self, deployment: Deployment, body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Claude models: ``publishers/anthropic/models/count-tokens:rawPredict``; Gemini:
        ``:countTokens``."""
        if not deployment.model.startswith("claude"):
            return super().count_request(deployment, body)
        google = self.base_url(deployment)
        prefix = google[: google.rindex("/publishers/google/models/")]
        url = f"{prefix}/publishers/anthropic/models/count-tokens:rawPredict"
        return url, vertex_claude_count_body(deployment.model, body)

    def auth_headers(self, deployment: Deployment) -> dict[str, str]:
        token = self._setting(deployment, "vertex_token", self.token_env) or deployment.api_key
        return {"authorization": f"Bearer {token or self._google_auth_token(deployment)}"}

    def _google_auth_token(self, deployment: Deployment) -> str:
        """A bearer token from google-auth credentials (refreshed when expired; blocking I/O)."""
        try:
            import google.auth
            import google.auth.transport.requests
        except ImportError as exc:
            raise MissingAPIKeyError(
                f"vertex_ai needs a token: set vertex_token in the deployment or {self.token_env}, "
                "or install google-auth for application-default credentials",
                provider=self.name,
                model=deployment.model,
            ) from exc
        if self._credentials is None:
            scopes = ["https://www.googleapis.com/auth/cloud-platform"]
            path = deployment.extra.get("vertex_credentials")
            if path:
                from google.oauth2 import service_account

                self._credentials = service_account.Credentials.from_service_account_file(path, scopes=scopes)  # type: ignore[no-untyped-call,unused-ignore]
            else:
                self._credentials, _ = google.auth.default(scopes=scopes)
        if not self._credentials.valid:
            self._credentials.refresh(google.auth.transport.requests.Request())
        return str(self._credentials.token)
