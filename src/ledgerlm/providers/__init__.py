"""Provider registry: ``get_provider(name)`` with lazy imports, and the model-string rules.

A model string is ``provider/model`` (``openai/gpt-4o-mini``, ``azure/my-deployment``,
``openrouter/anthropic/claude-3.5-sonnet``: only the first segment names the provider). A bare name is
inferred as LiteLLM infers it (``_BARE_PREFIXES``: ``gpt-*``, ``o1*``/``o3*``/``o4*``, ``chatgpt-*``,
``text-embedding-*``, ``dall-e-*``, ``tts-*``, ``whisper-*`` -> ``openai``; ``gpt-3.5-turbo-instruct``
-> ``text-completion-openai``; ``claude-*`` -> ``anthropic``; ``gemini-*`` -> ``gemini``); anything else
raises ``UnsupportedProviderError`` listing the known prefixes.

Each provider module is imported the first time its provider is asked for, so ``import ledgerlm`` stays
cheap and a provider's optional dependencies are only needed when it is used. Later providers (Anthropic,
Gemini, Bedrock) register by adding one ``ProviderSpec`` to ``ledgerlm.provider_specs``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ledgerlm.errors import UnsupportedProviderError
from ledgerlm.provider_specs import PROVIDER_SPECS
from ledgerlm.providers.base import Deployment, HTTPRequest, Provider, StreamDecoder

__all__ = [
    "Deployment",
    "HTTPRequest",
    "Provider",
    "StreamDecoder",
    "get_provider",
    "known_providers",
    "split_model",
]

# name -> (module, factory attribute, factory argument or None), and alias -> name: from THE provider
# table (``ledgerlm.provider_specs``); ``register_provider`` adds to the first.
_FACTORIES: dict[str, tuple[str, str, str | None]] = {spec.name: spec.factory for spec in PROVIDER_SPECS}
_ALIASES: dict[str, str] = {alias: spec.name for spec in PROVIDER_SPECS for alias in spec.aliases}

# Bare model-name prefixes whose provider is unambiguous.
_BARE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-3.5-turbo-instruct", "text-completion-openai"),
    ("babbage-", "text-completion-openai"),
    ("davinci-", "text-completion-openai"),
    ("gpt-", "openai"),
    ("dall-e-", "openai"),
    ("tts-", "openai"),
    ("whisper-", "openai"),
    ("omni-moderation", "openai"),
    ("text-moderation", "openai"),
    ("claude-", "anthropic"),
    ("gemini-", "gemini"),
    ("command-", "cohere"),
    ("rerank-", "cohere"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("text-embedding-", "openai"),
)

_INSTANCES: dict[str, Provider] = {}


def known_providers() -> list[str]:
    """Registry names, sorted (the prefixes a model string may start with)."""
    return sorted(_FACTORIES)


def register_provider(name: str, module: str, attribute: str, argument: str | None = None) -> None:
    """Register a provider ``name`` built by ``module.attribute(argument)`` (or ``()``) on first use."""
    _FACTORIES[name] = (module, attribute, argument)
    _INSTANCES.pop(name, None)


def canonical_name(name: str) -> str:
    """The registry name for ``name`` or one of its aliases (lower-cased); unknown names unchanged."""
    lowered = name.lower()
    return _ALIASES.get(lowered, lowered)


def get_provider(name: str) -> Provider:
    """The (shared, stateless) provider for registry ``name``; imports its module on first use.

    Raises ``UnsupportedProviderError`` for an unknown name, listing the known ones.
    """
    provider = _INSTANCES.get(name)
    if provider is not None:
        return provider
    key = canonical_name(name)
    entry = _FACTORIES.get(key)
    if entry is None:
        raise UnsupportedProviderError(
            f"unknown provider {name!r}; known providers: {', '.join(known_providers())}",
            provider=name,
        )
    module_name, attribute, argument = entry
    factory: Callable[..., Provider] = getattr(importlib.import_module(module_name), attribute)
    provider = factory(argument) if argument is not None else factory()
    _INSTANCES[name] = provider
    _INSTANCES[key] = provider
    return provider


def split_model(model: str) -> tuple[str, str]:
    """Split a model string into ``(provider, provider_model)``.

    ``"openai/gpt-4o"`` -> ``("openai", "gpt-4o")``; ``"openrouter/openai/gpt-4o"`` ->
    ``("openrouter", "openai/gpt-4o")``; bare ``"gpt-4o"`` -> ``("openai", "gpt-4o")``.
    Raises ``UnsupportedProviderError`` for an unknown prefix or an ambiguous bare name.
    """
    if not isinstance(model, str) or not model.strip():
        raise UnsupportedProviderError("model must be a non-empty string like 'openai/gpt-4o-mini'")
    head, sep, rest = model.partition("/")
    if sep:
        key = canonical_name(head)
        if key in _FACTORIES and rest:
            return key, rest
        from ledgerlm.providers.litellm_prefixes import UNSUPPORTED_PREFIXES

        if key in UNSUPPORTED_PREFIXES:
            raise UnsupportedProviderError(
                f"provider {head!r} (LiteLLM prefix) is not supported by ledgerlm; use "
                f"{UNSUPPORTED_PREFIXES[key]}",
                model=model,
                provider=head,
            )
    else:
        for prefix, provider in _BARE_PREFIXES:
            if model.startswith(prefix):
                return provider, model
    raise UnsupportedProviderError(
        f"cannot tell the provider of model {model!r}: write it as 'provider/model'. Known providers: "
        f"{', '.join(known_providers())} (a bare name is inferred as LiteLLM does: gpt-*, o1/o3/o4*, "
        "chatgpt-*, text-embedding-*, dall-e-*, tts-*, whisper-* -> openai; claude-* -> anthropic; "
        "gemini-* -> gemini; command-*, rerank-* -> cohere)",
        model=model,
    )
