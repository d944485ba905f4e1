"""LiteLLM's pricing helper ``cost_per_token`` on ledgerlm's price catalog.

``cost_per_token(model="gpt-4o-mini", prompt_tokens=10, completion_tokens=5, custom_llm_provider=None)``
-> ``(prompt_cost, completion_cost)``, USD ``Decimal`` (LiteLLM returns floats; a ``Decimal`` is exact and
works in arithmetic with other ``Decimal``s; ``float()`` it where a float is needed). The provider comes
from ``custom_llm_provider``, a ``provider/`` prefix of ``model``, or the catalog. An unknown model raises
``ValueError`` naming it (LiteLLM raises too): an unknown price is never $0.
"""

from __future__ import annotations

from decimal import Decimal

from ledgerlm.pricing.compiled import compile_price
from ledgerlm.types import Usage

__all__ = ["cost_per_token"]

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
