"""Custom pricing: LiteLLM's price keys (USD per token) from a deployment's config -> a ``Formula``.

Accepted keys (unchanged from LiteLLM's ``model_list`` entries, in ``litellm_params`` or
``model_info``; ``litellm_params`` wins when both set one):

=============================================  ==================================
key                                            category
=============================================  ==================================
``input_cost_per_token``                       ``input``
``output_cost_per_token``                      ``output``
``cache_read_input_token_cost``                ``cache_read``
``cache_creation_input_token_cost``            ``cache_write`` (5-minute / default TTL)
``cache_creation_input_token_cost_above_1hr``  ``cache_write_1h``
``output_cost_per_reasoning_token``            ``reasoning``
``input_cost_per_audio_token``                 ``input_audio``
``output_cost_per_audio_token``                ``output_audio``
``input_cost_per_image_token``                 ``input_image``
``output_cost_per_image_token``                ``output_image``
``input_cost_per_request``                     ``request`` (USD per call)
``<key>_above_<N>k_tokens``                    tier rate once input exceeds N x 1000 tokens
=============================================  ==================================

A price of 0 means free. A negative, non-finite or non-numeric price raises ``ConfigError`` naming
the key path. Numeric strings (YAML reads ``3e-06`` as a string) are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerlm.errors import ConfigError
from ledgerlm.pricing.formula import Formula, Rate

__all__ = ["CUSTOM_PRICE_KEYS", "custom_formula", "extract_custom_prices", "validate_custom_prices"]

CUSTOM_PRICE_KEYS: dict[str, str] = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "output_cost_per_reasoning_token": "reasoning",
    "input_cost_per_audio_token": "input_audio",
    "output_cost_per_audio_token": "output_audio",
    "input_cost_per_image_token": "input_image",
    "output_cost_per_image_token": "output_image",
    "input_cost_per_request": "request",
}

_TIER_KEY = re.compile(r"^(?P<base>[a-z_0-9]+?)_above_(?P<n>\d+)k_tokens$")


def _split_key(key: str) -> tuple[str, int | None] | None:
    """``(base key, tier threshold in tokens or None)`` for a price key, ``None`` for other keys."""
    if key in CUSTOM_PRICE_KEYS:
        return key, None
    match = _TIER_KEY.match(key)
    if match and match.group("base") in CUSTOM_PRICE_KEYS:
        return match.group("base"), int(match.group("n")) * 1000
    return None


def _to_price(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ConfigError(f"a price must be a non-negative number, got {value!r}", path=path)
    try:
        price = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise ConfigError(f"a price must be a non-negative number, got {value!r}", path=path) from None
    if not price.is_finite() or price < 0:
        raise ConfigError(f"a price must be a non-negative number, got {value!r}", path=path)
    return price


def validate_custom_prices(prices: Mapping[str, Any], *, path: str = "") -> dict[str, Decimal]:
    """The price keys of ``prices`` as ``Decimal`` USD (other keys ignored); raises ``ConfigError``."""
    prefix = f"{path}." if path else ""
    return {
        key: _to_price(value, f"{prefix}{key}")
        for key, value in prices.items()
        if _split_key(str(key)) is not None
    }


def extract_custom_prices(
    litellm_params: Mapping[str, Any] | None,
    model_info: Mapping[str, Any] | None = None,
    *,
    path: str = "",
) -> dict[str, Decimal] | None:
    """Custom prices of one ``model_list`` entry: ``{LiteLLM key: Decimal USD per unit}`` or ``None``.

    Reads ``model_info`` then ``litellm_params`` (which wins). ``path`` prefixes error key paths,
    e.g. ``"model_list[2]"`` -> ``"model_list[2].litellm_params.input_cost_per_token: ..."``.
    Raises ``ConfigError`` for a negative, non-finite or non-numeric price.
    """
    prefix = f"{path}." if path else ""
    found: dict[str, Decimal] = {}
    if model_info:
        found.update(validate_custom_prices(model_info, path=f"{prefix}model_info"))
    if litellm_params:
        found.update(validate_custom_prices(litellm_params, path=f"{prefix}litellm_params"))
    return found or None


def custom_formula(prices: Mapping[str, Decimal]) -> Formula:
    """Compile validated custom prices into a ``Formula`` (tier keys become ``Rate.tiers``)."""
    bases: dict[str, Decimal] = {}
    tiers: dict[str, list[tuple[int, Decimal]]] = {}
    for key, price in prices.items():
        split = _split_key(key)
        if split is None:
            continue
        base_key, threshold = split
        category = CUSTOM_PRICE_KEYS[base_key]
        if threshold is None:
            bases[category] = price
        else:
            tiers.setdefault(category, []).append((threshold, price))
    rates: dict[str, Rate] = {}
    for category in set(bases) | set(tiers):
        base = bases[category] if category in bases else _fallback_base(category, bases)
        rates[category] = Rate(base, tuple(sorted(tiers.get(category, []))))
    return Formula(rates)


def _fallback_base(category: str, bases: Mapping[str, Decimal]) -> Decimal:
    """A tier-only category's base rate: the parent category's base (input / output), else 0."""
    parent = "output" if category in ("output", "reasoning", "output_audio", "output_image") else "input"
    return bases.get(parent, Decimal(0))
