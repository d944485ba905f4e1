"""Pricing: the price catalog (genai-prices + custom prices), compiled per deployment, and cost math.

INTERFACE (the engine and the proxy call this)::

    price = compile_price(provider, model, custom=None, base_model=None)   # once per deployment
    cost  = price.cost(usage, at=start_datetime)                           # ~3 us per call -> Cost
    price.max_cost(input_tokens, max_output_tokens) -> Decimal | None       # worst case, for budgets
    price.max_output_tokens -> int | None
    completion_cost(response, *, provider=None, model=None, at=None, config=None) -> Cost
    extract_custom_prices(litellm_params, model_info=None, *, path="") -> dict[str, Decimal] | None

Sources, in order: custom prices (``source="custom"``), a provider-reported cost in the usage
(``"provider"``), the genai-prices catalog (``"catalog"``); otherwise unpriced (``total is None``).
Every ``Cost`` carries ``price_id`` (``ledgerlm.pricing.price_id``): the price book entry it was priced
with (``ledgerlm.pricing.book``; stored by ``ledgerlm.store.price_book``). See ``docs/pricing.md``.
"""

from __future__ import annotations

from ledgerlm.pricing.catalog import data_version, resolve_model
from ledgerlm.pricing.compiled import CompiledPrice, compile_price
from ledgerlm.pricing.completion import CostReport, NotAResponseError, completion_cost, price_report
from ledgerlm.pricing.custom import CUSTOM_PRICE_KEYS, extract_custom_prices

__all__ = [
    "CUSTOM_PRICE_KEYS",
    "CompiledPrice",
    "CostReport",
    "NotAResponseError",
    "compile_price",
    "completion_cost",
    "data_version",
    "extract_custom_prices",
    "price_report",
    "resolve_model",
]
