"""Rates a cell implies, and the catalog's published rate for the same model and category.

Rates are USD per million tokens (``web_search``: per thousand searches; ``request``: per thousand
requests), the units providers publish. ``catalog_rate(provider, model, category)`` prices one unit
block of that category alone through ``ledgerlm.pricing.compile_price`` (the genai-prices catalog, or
the custom prices passed in), so it is exactly the rate the ledger would apply; ``None`` when the
catalog has no price for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ledgerlm.types import Usage

__all__ = ["CatalogRate", "catalog_rate", "category_usage", "implied_rate", "unit_scale"]

CatalogRate = Callable[[str, str, str], Decimal | None]
_MILLION, _THOUSAND = 1_000_000, 1_000
_CATALOG_PROVIDER = {"vertex": "google-vertex", "openrouter": "openrouter"}


def unit_scale(category: str) -> int:
    """Units per quoted rate: 1,000 for ``web_search`` / ``request``, else 1,000,000 tokens."""
    return _THOUSAND if category in ("web_search", "request") else _MILLION


def implied_rate(usd: Decimal, units: int | None, category: str) -> Decimal | None:
    """``usd`` per ``unit_scale(category)`` units; ``None`` without units."""
    if not units:
        return None
    return usd * unit_scale(category) / units


def category_usage(category: str, n: int) -> Usage | None:
    """A ``Usage`` holding ``n`` units of ``category`` alone (``None`` for a category not priced by
    tokens or searches)."""
    shapes: Mapping[str, dict[str, Any]] = {
        "input": {"input_tokens": n},
        "cached_input": {"input_tokens": n, "cache_read_tokens": n},
        "cache_write_5m": {"input_tokens": n, "cache_write_tokens": n},
        "cache_write_1h": {"input_tokens": n, "cache_write_tokens": n, "cache_write_1h_tokens": n},
        "output": {"output_tokens": n},
        "audio_input": {"input_tokens": n, "input_audio_tokens": n},
        "audio_output": {"output_tokens": n, "output_audio_tokens": n},
        "image_input": {"input_tokens": n, "input_image_tokens": n},
        "image_output": {"output_tokens": n, "output_image_tokens": n},
        "web_search": {"web_search_requests": n},
    }
    shape = shapes.get(category)
    return None if shape is None else Usage(**shape)


@lru_cache(maxsize=1024)
def catalog_rate(provider: str, model: str, category: str) -> Decimal | None:
    """The catalog's rate for ``category`` of ``provider``/``model`` (see module doc), or ``None``."""
    from ledgerlm.pricing import compile_price

    usage = category_usage(category, unit_scale(category))
    if usage is None or not model:
        return None
    price = compile_price(_CATALOG_PROVIDER.get(provider, provider), model)
    cost = price.cost(usage)
    if cost.total is None or cost.total == 0:
        return None
    return cost.total
