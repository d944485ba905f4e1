"""The small provider interface every wire format implements.

A provider module knows one wire format and nothing else: it builds the HTTP request for a call, parses
the provider's body (plain or streamed) into the OpenAI format, maps the provider's usage into canonical
``Usage`` and maps the provider's error bodies onto ``ledgerlm.errors``. It performs no I/O: sending,
retries, timing, cost and logging live in ``ledgerlm.engine``. This keeps every mapping a pure function
that tests (and ``ledgerlm cost``) can run on recorded payloads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ledgerlm.errors import APIError
from ledgerlm.provider_specs import code_of, load
from ledgerlm.providers.stream import StreamDecoder
from ledgerlm.types import Usage

__all__ = ["Deployment", "HTTPRequest", "Provider", "StreamDecoder"]


@dataclass(frozen=True, slots=True)
class Deployment:
    """One concrete provider model with its credentials (DESIGN.md: "deployment").

    * ``provider``: registry name (``openai``, ``azure``, ``groq``, ``anthropic``, ``bedrock`` ...).
    * ``model``: the provider-side model id (for Azure: the deployment name).
    * ``model_group``: the public model name callers use (proxy ``model_name``), or the requested model.
    * ``price``: the compiled price (``ledgerlm.pricing.CompiledPrice``) held beside the deployment,
      compiled once when it is built (the proxy's model list); ``None``: the engine uses the catalog's
      price of ``provider``/``model`` (compiled once per pair, ``ledgerlm.engine.compiled_price``).

    Frozen: a variant (other settings, another group) is a copy (``dataclasses.replace``).
    * ``extra``: provider-specific settings (``aws_region_name``, ``vertex_project`` ...).
    * ``timeout``: seconds for the whole non-streamed call, and between stream chunks.
    """

    provider: str
    model: str
    api_base: str | None = None
    api_key: str | None = None
    api_version: str | None = None
    model_group: str | None = None
    deployment_id: str | None = None
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    price: Any = None
    timeout: float | None = None


@dataclass(slots=True)
class HTTPRequest:
    """What to send upstream: method, absolute URL, headers (secrets included: never logged), body bytes."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


class Provider(ABC):
    """One wire format. Subclasses set the class attributes and implement the abstract methods.

    ``api_key_env`` lists the environment variables read for the key, in order (the first is named
    in the "missing API key" message); ``default_api_base`` is used when the deployment has none.
    """

    name: ClassVar[str]
    api_key_env: ClassVar[tuple[str, ...]] = ()
    default_api_base: ClassVar[str | None] = None
    supports_embeddings: ClassVar[bool] = False
    returns_openai_format: ClassVar[bool] = False
    """True when ``parse_chat_response`` returns the provider's body unchanged (OpenAI family): the
    engine then hands the upstream bytes on as ``ChatResult.raw`` so the proxy can forward them."""

    @abstractmethod
    def build_chat_request(
        self, deployment: Deployment, params: Mapping[str, Any], *, stream: bool
    ) -> HTTPRequest:
        """Build the upstream request from an OpenAI chat-completions body (``messages``, params)."""

    @abstractmethod
    def parse_chat_response(self, deployment: Deployment, body: Mapping[str, Any]) -> dict[str, Any]:
        """Translate the provider's parsed JSON body into an OpenAI ``chat.completion`` dict."""

    def usage_from_body(self, body: Mapping[str, Any]) -> Usage:
        """Canonical usage from a provider-native (non-streamed) response body. Pure. The provider
        table's mapper (``ProviderSpec.usage_mapper``); a body without usage counts zero."""
        usage: Usage | None = load(code_of(self.name).usage_mapper)(body, provider=self.name)
        return usage if usage is not None else Usage()

    def stream_decoder(self, deployment: Deployment, *, caller_wants_usage: bool) -> StreamDecoder:
        """A fresh decoder for one streamed response: the provider table's class
        (``ProviderSpec.stream_decoder``) built by its ``open``. ``caller_wants_usage`` False: the
        usage-only chunk that ledgerlm asked for on the caller's behalf is not returned to the caller."""
        decoder: type[StreamDecoder] = load(code_of(self.name).stream_decoder)
        return decoder.open(self.name, deployment, caller_wants_usage=caller_wants_usage)

    @abstractmethod
    def error_from_response(
        self, deployment: Deployment, status: int, body: bytes, headers: Mapping[str, str]
    ) -> APIError:
        """Map a non-2xx response onto the exception tree, keeping the provider's body."""

    def build_embedding_request(self, deployment: Deployment, params: Mapping[str, Any]) -> HTTPRequest:
        """Build an embeddings request from an OpenAI embeddings body (``input``, params)."""
        raise NotImplementedError(f"provider {self.name!r} has no embeddings")

    def parse_embedding_response(self, deployment: Deployment, body: Mapping[str, Any]) -> dict[str, Any]:
        """Translate an embeddings body into the OpenAI ``list`` of ``embedding`` objects."""
        raise NotImplementedError(f"provider {self.name!r} has no embeddings")
