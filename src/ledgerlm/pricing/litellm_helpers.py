"""LiteLLM's public helpers on ledgerlm's price catalog: ``cost_per_token``, ``get_model_info``,
``token_counter`` (``register_model``: ``ledgerlm.pricing.model_registry``).

``cost_per_token(model="gpt-4o-mini", prompt_tokens=10, completion_tokens=5, custom_llm_provider=None)``
-> ``(prompt_cost, completion_cost)``, USD ``Decimal`` (LiteLLM returns floats; a ``Decimal`` is exact and
works in arithmetic with other ``Decimal``s; ``float()`` it where a float is needed). The provider comes
from ``custom_llm_provider``, a ``provider/`` prefix of ``model``, or the catalog. An unknown model raises
``ValueError`` naming it (LiteLLM raises too): an unknown price is never $0.

``get_model_info(model="gpt-4o-mini", custom_llm_provider=None)`` -> LiteLLM's dict: ``key``,
``max_tokens``, ``max_input_tokens``, ``max_output_tokens`` (``None`` when unknown),
``input_cost_per_token``, ``output_cost_per_token`` (USD ``Decimal``), ``litellm_provider``, ``mode``
(``chat``, ``embedding``, ``image_generation``, ``audio_transcription``, ``audio_speech``,
``moderation``, ``rerank``), ``supports_*`` (``None`` when unknown), plus every key of a
``register_model`` entry. Source: the registered entry, else the catalog (genai-prices: prices and
context window). An unknown model raises ``ValueError`` (LiteLLM: "This model isn't mapped yet").

``token_counter(model="", messages=None, text=None)`` -> int: an ESTIMATE (ledgerlm ships no tokenizer):
ceil(characters / 4) of the text, for messages plus 3 tokens per message and 3 for the reply (OpenAI's
chat framing); LiteLLM counts OpenAI models exactly with tiktoken.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ledgerlm.pricing.catalog import resolve_model
from ledgerlm.pricing.compiled import compile_price
from ledgerlm.pricing.model_registry import register_model, registered
from ledgerlm.types import Usage

__all__ = ["cost_per_token", "get_model_info", "register_model", "token_counter"]

_SUPPORTS = (
    "supports_function_calling",
    "supports_parallel_function_calling",
    "supports_vision",
    "supports_system_messages",
    "supports_response_schema",
    "supports_tool_choice",
    "supports_prompt_caching",
    "supports_reasoning",
    "supports_audio_input",
    "supports_audio_output",
    "supports_pdf_input",
)
_MODES = (
    ("embed", "embedding"),
    ("dall-e", "image_generation"),
    ("gpt-image", "image_generation"),
    ("imagen", "image_generation"),
    ("whisper", "audio_transcription"),
    ("transcribe", "audio_transcription"),
    ("tts", "audio_speech"),
    ("moderation", "moderation"),
    ("rerank", "rerank"),
)

_INPUT = ("input", "cache_read", "cache_write", "cache_write_1h", "input_audio", "input_image", "request")


def _provider(model: str, custom_llm_provider: str | None) -> tuple[str, str]:
    """``(provider, model)``: LiteLLM's ``custom_llm_provider``, a ``provider/`` prefix, or the family a
    bare name belongs to (``claude-*`` Anthropic, ``gemini-*`` Gemini, else OpenAI)."""
    if custom_llm_provider:
        return custom_llm_provider, model
    if "/" in model:
        provider, _, name = model.partition("/")
        return provider, name
    for prefix, provider in (("claude", "anthropic"), ("gemini", "gemini")):
        if model.startswith(prefix):
            return provider, model
    return "openai", model


def cost_per_token(
    model: str = "",
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    custom_llm_provider: str | None = None,
) -> tuple[Decimal, Decimal]:
    """``(prompt_cost, completion_cost)`` in USD for the token counts (see the module docstring)."""
    if not model:
        raise ValueError("cost_per_token needs model=")
    provider, name = _provider(model, custom_llm_provider)
    usage = Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens)
    cost = compile_price(provider, name).cost(usage)
    if cost.total is None:
        raise ValueError(f"no price known for model {model!r}: {cost.unpriced_reason}")
    prompt = sum((v for k, v in cost.breakdown.items() if k in _INPUT), Decimal(0))
    return prompt, cost.total - prompt


def _mode(model: str) -> str:
    lowered = model.lower()
    return next((mode for hint, mode in _MODES if hint in lowered), "chat")


def _per_token(provider: str, model: str) -> tuple[Decimal | None, Decimal | None]:
    """USD of one input and one output token at today's price (``None`` when unpriced)."""
    price = compile_price(provider, model)
    now = datetime.now(UTC)
    one_in = price.cost(Usage(input_tokens=1), at=now).total
    one_out = price.cost(Usage(output_tokens=1), at=now).total
    return one_in, one_out


def get_model_info(model: str = "", custom_llm_provider: str | None = None) -> dict[str, Any]:
    """LiteLLM's model info dict (module docstring). Raises ``ValueError`` for an unknown model."""
    if not model:
        raise ValueError("get_model_info needs model=")
    provider, name = _provider(model, custom_llm_provider)
    entry = registered(provider, name) or {}
    match = resolve_model(provider, name)
    if match is None and not entry:
        raise ValueError(
            f"This model isn't mapped yet. model={model}, custom_llm_provider={provider}: add it with "
            "ledgerlm.register_model({...})"
        )
    one_in, one_out = _per_token(provider, name)
    context = match.model.context_window if match is not None else None
    max_output = entry.get("max_output_tokens")
    info: dict[str, Any] = {
        "key": name,
        "max_tokens": entry.get("max_tokens", max_output or context),
        "max_input_tokens": entry.get("max_input_tokens", context),
        "max_output_tokens": max_output,
        "input_cost_per_token": one_in,
        "output_cost_per_token": one_out,
        "litellm_provider": entry.get("litellm_provider", provider),
        "mode": entry.get("mode", _mode(name)),
        **dict.fromkeys(_SUPPORTS),
    }
    priced = ("input_cost_per_token", "output_cost_per_token")
    info.update({k: v for k, v in entry.items() if k not in priced})
    return info


def _text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = (p.get("text") for p in content if isinstance(p, Mapping))
        return "".join(t for t in parts if isinstance(t, str))
    return ""


def token_counter(
    model: str = "", text: str | None = None, messages: Sequence[Mapping[str, Any]] | None = None, **_: Any
) -> int:
    """An estimate of the tokens of ``text`` or ``messages`` (module docstring); ``model`` is accepted
    for LiteLLM's signature. Raises ``ValueError`` when neither is given."""
    if text is None and messages is None:
        raise ValueError("token_counter needs text= or messages=")
    if messages is None:
        return _text_tokens(text or "")
    total = 3  # the reply's framing
    for message in messages:
        total += 3 + _text_tokens(_content_text(message.get("content")))
        if message.get("name"):
            total += 1
    return total
