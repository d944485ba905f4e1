"""The OpenAI wire format: OpenAI itself and every OpenAI-compatible server (named presets).

Chat completions (``POST {base}/chat/completions``) and embeddings (``POST {base}/embeddings``) as in
the OpenAI API reference (https://platform.openai.com/docs/api-reference/chat). The bodies already are
the OpenAI format, so parsing only checks their shape and returns them unchanged (``returns_openai_format``).

Presets (base URL, key variables) follow each provider's "OpenAI compatibility" docs:

=========== ======================================== =============================== ==========
preset      default base URL                          key variable(s)                 stream usage
=========== ======================================== =============================== ==========
openai      https://api.openai.com/v1                 OPENAI_API_KEY                  yes
groq        https://api.groq.com/openai/v1            GROQ_API_KEY                    yes
deepseek    https://api.deepseek.com                  DEEPSEEK_API_KEY                yes
mistral     https://api.mistral.ai/v1                 MISTRAL_API_KEY                 always sent
xai         https://api.x.ai/v1                       XAI_API_KEY                     yes
openrouter  https://openrouter.ai/api/v1              OPENROUTER_API_KEY              yes
together    https://api.together.xyz/v1               TOGETHER_API_KEY, TOGETHERAI_.. yes
fireworks   https://api.fireworks.ai/inference/v1     FIREWORKS_API_KEY, FIREWORKS_AI yes
vllm        http://localhost:8000/v1 (VLLM_API_BASE)  VLLM_API_KEY (optional)         yes
ollama      http://localhost:11434/v1 (OLLAMA_API_BASE) OLLAMA_API_KEY (optional)     yes
=========== ======================================== =============================== ==========

"stream usage yes": ledgerlm sets ``stream_options.include_usage`` on streamed calls; Mistral sends
the usage in its last chunk unasked and rejects unknown fields, so it gets no ``stream_options``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from ledgerlm.errors import APIError, APIResponseValidationError, BadRequestError, MissingAPIKeyError
from ledgerlm.providers.base import Deployment, HTTPRequest, Provider
from ledgerlm.providers.http_errors import error_from_openai_body, error_from_stream_event
from ledgerlm.providers.openai.endpoints import ENDPOINT_FLAG, build_endpoint_request
from ledgerlm.providers.openai.presets import MORE_PRESETS
from ledgerlm.providers.openai.responses import RESPONSES_FLAG

__all__ = ["PRESETS", "OpenAICompatibleProvider", "OpenAIProvider", "Preset", "preset_provider"]

_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


@dataclass(frozen=True, slots=True)
class Preset:
    """An OpenAI-compatible provider: registry ``name``, default ``api_base``, key variables (first is
    named in errors), whether a key is required, variables that override the base URL, and whether
    ``stream_options.include_usage`` is sent on streams."""

    name: str
    api_base: str
    api_key_env: tuple[str, ...]
    key_required: bool = True
    api_base_env: tuple[str, ...] = ()
    stream_usage_option: bool = True


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",), True, ("OPENAI_BASE_URL",)),
        Preset("groq", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",)),
        Preset("deepseek", "https://api.deepseek.com", ("DEEPSEEK_API_KEY",)),
        Preset("mistral", "https://api.mistral.ai/v1", ("MISTRAL_API_KEY",), stream_usage_option=False),
        Preset("xai", "https://api.x.ai/v1", ("XAI_API_KEY",)),
        Preset("openrouter", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)),
        Preset("together", "https://api.together.xyz/v1", ("TOGETHER_API_KEY", "TOGETHERAI_API_KEY")),
        Preset(
            "fireworks",
            "https://api.fireworks.ai/inference/v1",
            ("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY"),
        ),
        Preset("vllm", "http://localhost:8000/v1", ("VLLM_API_KEY",), False, ("VLLM_API_BASE",)),
        Preset("ollama", "http://localhost:11434/v1", ("OLLAMA_API_KEY",), False, ("OLLAMA_API_BASE",)),
        *(Preset(*row) for row in MORE_PRESETS),
    )
}


class OpenAICompatibleProvider(Provider):
    """Chat completions + embeddings in the OpenAI format for one ``preset``. Stateless, shared."""

    preset: ClassVar[Preset]
    supports_embeddings = True
    returns_openai_format = True

    # -- credentials and URLs -------------------------------------------------------------------
    def api_key(self, deployment: Deployment) -> str | None:
        """The key: the deployment's, else the first set key variable; raises ``MissingAPIKeyError``
        (naming the variable to set) when the preset needs one and none is set. No network."""
        if deployment.api_key:
            return deployment.api_key
        for env in self.api_key_env:
            value = os.environ.get(env)
            if value:
                return value
        if self.preset.key_required:
            raise MissingAPIKeyError(
                f"no API key for provider {self.name!r}: set the environment variable "
                f"{self.api_key_env[0]} or pass api_key=...",
                provider=self.name,
                model=deployment.model,
                param="api_key",
            )
        return None

    def api_base(self, deployment: Deployment) -> str:
        """Base URL without trailing slash: the deployment's, else a base variable, else the default;
        ``BadRequestError`` naming the variable when the preset has no default (self-hosted servers)."""
        if deployment.api_base:
            return deployment.api_base.rstrip("/")
        for env in self.preset.api_base_env:
            value = os.environ.get(env)
            if value:
                return value.rstrip("/")
        if not self.preset.api_base:
            names = " or ".join([*self.preset.api_base_env[:1], "api_base"])
            raise BadRequestError(
                f"provider {self.name!r} has no default URL: set {names}",
                provider=self.name,
                model=deployment.model,
                param="api_base",
            )
        return self.preset.api_base

    def headers(self, deployment: Deployment, extra: Mapping[str, str] | None) -> dict[str, str]:
        """Request headers: JSON content type, ``Authorization: Bearer`` when a key is known, extras."""
        headers = dict(_JSON_HEADERS)
        key = self.api_key(deployment)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        configured = deployment.extra.get("headers")
        if configured:
            headers.update(configured)
        if extra:
            headers.update(extra)
        return headers

    def url(self, deployment: Deployment, path: str) -> str:
        """Absolute URL of endpoint ``path`` (``chat/completions``, ``embeddings``)."""
        return f"{self.api_base(deployment)}/{path}"

    def responses_url(self, deployment: Deployment, suffix: str = "") -> str:
        """URL of the Responses API (``{base}/responses``), ``suffix`` appended (``/{id}``,
        ``/{id}/input_items``)."""
        return f"{self.api_base(deployment)}/responses{suffix}"

    # -- requests ---------------------------------------------------------------------------------
    def _body(self, deployment: Deployment, params: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        body = dict(params)
        extra_headers = body.pop("extra_headers", None)
        extra_body = body.pop("extra_body", None)
        body.pop("extra_query", None)
        for name, value in (("extra_headers", extra_headers), ("extra_body", extra_body)):
            if value is not None and not isinstance(value, Mapping):
                raise BadRequestError(f"{name} must be an object", param=name, provider=self.name)
        if extra_body:
            body.update(extra_body)
        body["model"] = deployment.model
        return body, extra_headers

    def build_chat_request(
        self, deployment: Deployment, params: Mapping[str, Any], *, stream: bool
    ) -> HTTPRequest:
        """``POST {base}/chat/completions`` with the OpenAI body; streams ask for the usage chunk.
        With ``extra[RESPONSES_FLAG]``: ``POST {base}/responses`` with the Responses-API body."""
        if deployment.extra.get(RESPONSES_FLAG):
            return self._responses_request(deployment, params, stream=stream)
        if deployment.extra.get(ENDPOINT_FLAG):
            return build_endpoint_request(self, deployment, params, stream=stream)
        body, extra_headers = self._body(deployment, params)
        if stream:
            body["stream"] = True
            if self.preset.stream_usage_option:
                options = body.get("stream_options") or {}
                if not isinstance(options, Mapping):
                    raise BadRequestError("stream_options must be an object", param="stream_options")
                options = dict(options)
                options["include_usage"] = True
                body["stream_options"] = options
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        headers = self.headers(deployment, extra_headers)
        if stream:
            headers["Accept"] = "text/event-stream"
        return HTTPRequest("POST", self.url(deployment, "chat/completions"), headers, orjson.dumps(body))

    def _responses_request(
        self, deployment: Deployment, params: Mapping[str, Any], *, stream: bool
    ) -> HTTPRequest:
        body, extra_headers = self._body(deployment, params)
        if stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
        headers = self.headers(deployment, extra_headers)
        if stream:
            headers["Accept"] = "text/event-stream"
        return HTTPRequest("POST", self.responses_url(deployment), headers, orjson.dumps(body))

    def build_embedding_request(self, deployment: Deployment, params: Mapping[str, Any]) -> HTTPRequest:
        """``POST {base}/embeddings`` with the OpenAI embeddings body (``input``, ``dimensions`` ...)."""
        body, extra_headers = self._body(deployment, params)
        headers = self.headers(deployment, extra_headers)
        return HTTPRequest("POST", self.url(deployment, "embeddings"), headers, orjson.dumps(body))

    # -- responses --------------------------------------------------------------------------------
    def _check_body(self, deployment: Deployment, body: Any, member: str) -> dict[str, Any]:
        if isinstance(body, dict) and isinstance(body.get(member), list):
            return body
        if isinstance(body, dict) and "error" in body:
            raise error_from_stream_event(self.name, deployment.model, body)
        raise APIResponseValidationError(
            f"{self.name} returned a body without a {member!r} list; it is not an OpenAI-format response",
            provider=self.name,
            model=deployment.model,
            body=body,
        )

    def parse_chat_response(self, deployment: Deployment, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body itself (already a ``chat.completion``) after checking it has ``choices``; a
        Responses-API body (``extra[RESPONSES_FLAG]``) after checking it has ``output``."""
        if deployment.extra.get(RESPONSES_FLAG):
            return self._check_body(deployment, body, "output")
        if deployment.extra.get(ENDPOINT_FLAG):
            return self._endpoint_body(deployment, body)
        return self._check_body(deployment, body, "choices")

    def _endpoint_body(self, deployment: Deployment, body: Any) -> dict[str, Any]:
        if isinstance(body, dict) and "error" in body and len(body) <= 2:
            raise error_from_stream_event(self.name, deployment.model, body)
        if not isinstance(body, dict):
            raise APIResponseValidationError(
                f"{self.name} returned a body that is not a JSON object", provider=self.name, body=body
            )
        return body

    def parse_embedding_response(self, deployment: Deployment, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body itself (already an embeddings ``list``) after checking it has ``data``."""
        return self._check_body(deployment, body, "data")

    def error_from_response(
        self, deployment: Deployment, status: int, body: bytes, headers: Mapping[str, str]
    ) -> APIError:
        """OpenAI error body -> exception of the status class (see ``http_errors``)."""
        return error_from_openai_body(self.name, deployment.model, status, body, headers)


class OpenAIProvider(OpenAICompatibleProvider):
    """api.openai.com (or any OpenAI-compatible server given ``api_base``)."""

    name = "openai"
    preset = PRESETS["openai"]
    api_key_env = preset.api_key_env
    default_api_base = preset.api_base


def preset_provider(name: str) -> OpenAICompatibleProvider:
    """A provider for the preset ``name`` (a subclass per preset, so ``name`` stays a class attribute)."""
    preset = PRESETS.get(name)
    if preset is None:
        raise BadRequestError(f"unknown OpenAI-compatible preset {name!r}; known: {', '.join(PRESETS)}")
    cls = type(
        f"{name.title()}Provider",
        (OpenAICompatibleProvider,),
        {
            "name": preset.name,
            "preset": preset,
            "api_key_env": preset.api_key_env,
            "default_api_base": preset.api_base,
            "__doc__": f"OpenAI-compatible provider preset {name!r} ({preset.api_base}).",
        },
    )
    provider: OpenAICompatibleProvider = cls()
    return provider
