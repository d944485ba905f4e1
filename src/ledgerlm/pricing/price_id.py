"""Price ids: the one reference a spend row keeps for the price it was priced with.

A price id names the CONTENT of a price, so the same price always gets the same id (in every process,
after every restart) and a changed price gets a new one:

* ``cat_<16 hex>``: a genai-prices catalog entry, from the catalog model (``model_ref``, e.g.
  ``openai/gpt-4o``) and the catalog ``data_version`` (``"genai-prices 0.0.30"``); the catalog's own
  dated price periods are part of that entry;
* ``cus_<16 hex>``: custom prices from the config, from the priced model (``provider/model``) and the
  LiteLLM price keys with their exact decimal values;
* ``prv_<16 hex>``: a cost the provider reported itself, from the priced model.

The 16 hex digits are the start of a SHA-256 over a canonical text (``|``-separated, prices sorted by
key, amounts as normalized decimal strings). ``ledgerlm.store.price_book`` stores the entries with their
provenance and effective dates; ``ledgerlm prices history MODEL`` shows them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal

__all__ = ["catalog_price_id", "custom_price_id", "decimal_text", "provider_price_id"]


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def decimal_text(value: Decimal) -> str:
    """``value`` as a canonical plain decimal string (``Decimal("3.0E-6")`` -> ``"0.000003"``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def catalog_price_id(model_ref: str, data_version: str) -> str:
    """Id of the catalog entry ``model_ref`` (``provider/model`` in genai-prices) in ``data_version``."""
    return "cat_" + _digest("catalog", model_ref, data_version)


def custom_price_id(model_key: str, prices: Mapping[str, Decimal]) -> str:
    """Id of custom ``prices`` (LiteLLM keys -> USD per unit) for ``model_key`` (``provider/model``)."""
    canonical = ",".join(f"{key}={decimal_text(prices[key])}" for key in sorted(prices))
    return "cus_" + _digest("custom", model_key, canonical)


def provider_price_id(model_key: str) -> str:
    """Id of "the provider reports the cost" for ``model_key`` (``provider/model``)."""
    return "prv_" + _digest("provider", model_key)
