"""THE provider table: one ``ProviderSpec`` per provider ledgerlm can call, read by every part that
needs to know a provider (the registry in ``ledgerlm.providers``, usage mapping in
``ledgerlm.usage.dispatch``, the price catalog in ``ledgerlm.pricing.catalog``, OpenTelemetry's
``gen_ai.provider.name``), so they agree on names and aliases (LiteLLM's spellings).

Per provider: ``name`` (the model-string prefix), ``aliases``, ``wire_format`` (``openai``,
``anthropic``, ``gemini``, ``bedrock``: which request/response/usage/stream code speaks to it),
``factory`` (``module``, attribute, argument: the ``Provider`` built on first use, lazily imported; its
class holds the credentials' environment variables, ``api_key_env``), ``price_provider`` (the
genai-prices provider id, ``None``: no catalog price, e.g. self-hosted), ``otel_name``
(``gen_ai.provider.name``; ``None``: the name itself) and the code that reads its answers
(``WireCode``: the wire format's unless ``code`` overrides it):

* ``usage_mapper``: a response body -> canonical ``Usage`` (``fn(body, *, provider) -> Usage | None``,
  in ``ledgerlm.usage``; read by ``Provider.usage_from_body`` and ``ledgerlm.usage.usage_from_body``,
  hence ``completion_cost`` on recorded bodies);
* ``stream_usage``: a parsed stream event accumulator (``feed(event)``, ``usage(provider=)``, in
  ``ledgerlm.usage``; read by ``ledgerlm.usage.usage_from_stream``: recorded streams, pass-through);
* ``stream_decoder``: the ``StreamDecoder`` class (in ``ledgerlm.providers``; ``open(provider,
  deployment, caller_wants_usage=)`` builds one per streamed response; read by ``Provider.stream_decoder``).

They are references ``(module, attribute)``, imported on first use by ``load``: this module is pure data
and imports nothing of ledgerlm; a usage reference points into ``ledgerlm.usage`` and a decoder
reference into ``ledgerlm.providers``, so each reader loads only code of its own layer or below
(``tests/providers/test_provider_specs.py``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

__all__ = [
    "PROVIDER_SPECS",
    "WIRE_CODE",
    "ProviderSpec",
    "Ref",
    "WireCode",
    "WireFormat",
    "canonical_provider",
    "code_of",
    "load",
    "spec_of",
]

WireFormat = Literal["openai", "anthropic", "gemini", "bedrock"]

Ref = tuple[str, str]
"""``(module, attribute)``: code named by the table, imported on first use (``load``)."""


@dataclass(frozen=True, slots=True)
class WireCode:
    """The code that reads one wire format's answers (see the module docstring)."""

    usage_mapper: Ref
    stream_usage: Ref
    stream_decoder: Ref


_U = "ledgerlm.usage."
_P = "ledgerlm.providers."

WIRE_CODE: dict[WireFormat, WireCode] = {
    "openai": WireCode(
        (_U + "openai", "usage_from_openai_body"),
        (_U + "openai", "OpenAIStreamUsage"),
        (_P + "openai.stream", "OpenAIStreamDecoder"),
    ),
    "anthropic": WireCode(
        (_U + "anthropic", "usage_from_anthropic_body"),
        (_U + "anthropic", "AnthropicStreamUsage"),
        (_P + "anthropic.stream", "AnthropicSSEDecoder"),
    ),
    "gemini": WireCode(
        (_U + "gemini", "usage_from_gemini_body"),
        (_U + "gemini", "GeminiStreamUsage"),
        (_P + "gemini.stream", "GeminiSSEDecoder"),
    ),
    "bedrock": WireCode(
        (_U + "bedrock", "usage_from_bedrock_body"),
        (_U + "bedrock", "BedrockStreamUsage"),
        (_P + "bedrock.stream", "BedrockEventStreamDecoder"),
    ),
}
"""Each wire format's ``WireCode``: OpenAI chat SSE (and Responses-API SSE, picked by the decoder's
``open``), Anthropic SSE, Gemini SSE, the Bedrock binary event stream."""

_OPENAI = "ledgerlm.providers.openai"


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One provider (see the module docstring for the fields)."""

    name: str
    wire_format: WireFormat
    factory: tuple[str, str, str | None]
    aliases: tuple[str, ...] = ()
    price_provider: str | None = None
    otel_name: str | None = None
    code: WireCode | None = None

    @property
    def wire_code(self) -> WireCode:
        """``code``, or the wire format's (``WIRE_CODE``)."""
        return self.code or WIRE_CODE[self.wire_format]

    @property
    def usage_mapper(self) -> Ref:
        """Response body -> ``Usage | None`` (``fn(body, *, provider)``)."""
        return self.wire_code.usage_mapper

    @property
    def stream_usage(self) -> Ref:
        """The stream usage accumulator class (parsed events)."""
        return self.wire_code.stream_usage

    @property
    def stream_decoder(self) -> Ref:
        """The ``StreamDecoder`` class (streamed bytes -> chunks)."""
        return self.wire_code.stream_decoder


def _preset(
    name: str, price: str | None, aliases: tuple[str, ...] = (), otel: str | None = None
) -> ProviderSpec:
    """An OpenAI-compatible provider built by ``preset_provider(name)``."""
    return ProviderSpec(name, "openai", (_OPENAI, "preset_provider", name), aliases, price, otel)


PROVIDER_SPECS: tuple[ProviderSpec, ...] = (
    ProviderSpec("openai", "openai", (_OPENAI, "OpenAIProvider", None), price_provider="openai"),
    ProviderSpec(
        "azure",
        "openai",
        ("ledgerlm.providers.openai.azure", "AzureOpenAIProvider", None),
        aliases=("azure_openai", "azure-openai", "azure_text"),
        price_provider="azure",
        otel_name="azure.ai.openai",
    ),
    _preset("groq", "groq"),
    _preset("deepseek", "deepseek"),
    _preset("mistral", "mistral", ("mistralai",), otel="mistral_ai"),
    _preset("xai", "x-ai", ("x-ai",), otel="x_ai"),
    _preset("openrouter", "openrouter"),
    _preset("together", "together", ("together_ai",)),
    _preset("fireworks", "fireworks", ("fireworks_ai",)),
    _preset("vllm", None, ("hosted_vllm",)),
    _preset("ollama", None, ("ollama_chat",)),
    # more OpenAI-compatible providers under LiteLLM's prefixes (issue 15; presets in
    # ledgerlm.providers.openai.presets)
    _preset("text-completion-openai", "openai", ("text_completion_openai",)),
    _preset("azure_ai", "azure"),
    _preset("cohere", "cohere", ("cohere_chat",), otel="cohere"),
    _preset("perplexity", "perplexity", ("perplexityai",), otel="perplexity"),
    _preset("cerebras", "cerebras"),
    _preset("nvidia_nim", None),
    _preset("databricks", None),
    _preset("lm_studio", None, ("lmstudio",)),
    _preset("openai_like", None, ("custom_openai",)),
    _preset("deepinfra", None),
    _preset("sambanova", None),
    _preset("hyperbolic", None),
    _preset("nebius", None),
    _preset("moonshot", "moonshotai"),
    _preset("dashscope", None),
    _preset("github", None),
    _preset("llamafile", None),
    _preset("jina_ai", None),
    _preset("voyage", None),
    _preset("friendliai", None),
    _preset("codestral", "mistral", ("text-completion-codestral",)),
    _preset("litellm_proxy", None),
    _preset("nscale", None),
    _preset("featherless_ai", None),
    _preset("novita", "novita"),
    _preset("lambda_ai", None),
    _preset("meta_llama", None),
    _preset("vercel_ai_gateway", None),
    ProviderSpec(
        "anthropic",
        "anthropic",
        ("ledgerlm.providers.anthropic", "AnthropicProvider", None),
        price_provider="anthropic",
    ),
    ProviderSpec(
        "gemini",
        "gemini",
        ("ledgerlm.providers.gemini", "GeminiProvider", None),
        price_provider="google",
        otel_name="gcp.gemini",
    ),
    ProviderSpec(
        "vertex_ai",
        "gemini",
        ("ledgerlm.providers.gemini", "VertexProvider", None),
        aliases=("vertex", "vertexai", "vertex_ai_beta"),
        price_provider="google",
        otel_name="gcp.vertex_ai",
    ),
    ProviderSpec(
        "bedrock",
        "bedrock",
        ("ledgerlm.providers.bedrock", "BedrockProvider", None),
        price_provider="aws",
        otel_name="aws.bedrock",
    ),
    ProviderSpec(  # SageMaker TGI endpoints on the Bedrock SigV4 code; usage mapped by the provider
        "sagemaker",
        "bedrock",
        ("ledgerlm.providers.bedrock.sagemaker", "SageMakerProvider", None),
        price_provider=None,
        otel_name="aws.sagemaker",
    ),
)

_BY_NAME: dict[str, ProviderSpec] = {
    key: spec for spec in PROVIDER_SPECS for key in (spec.name, *spec.aliases)
}


def canonical_provider(name: str) -> str:
    """The table's name for ``name`` or one of its aliases (lower-cased); unknown names unchanged."""
    lowered = name.lower()
    spec = _BY_NAME.get(lowered)
    return spec.name if spec is not None else lowered


def spec_of(name: str) -> ProviderSpec | None:
    """The spec of a provider name or alias (any case); ``None`` when the table has none."""
    return _BY_NAME.get(name.lower())


def code_of(name: str, default: WireFormat = "openai") -> WireCode:
    """The ``WireCode`` of a provider name or alias; a name the table lacks (a provider registered at
    run time) speaks ``default``."""
    spec = _BY_NAME.get(name.lower())
    return spec.wire_code if spec is not None else WIRE_CODE[default]


@cache
def load(ref: Ref) -> Any:
    """The attribute ``ref`` names, its module imported on first use. Raises ``ImportError`` or
    ``AttributeError`` for a reference that names nothing."""
    module, attribute = ref
    return getattr(importlib.import_module(module), attribute)
