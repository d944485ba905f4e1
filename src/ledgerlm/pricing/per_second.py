"""Per-second pricing (LiteLLM "Custom Pricing - SageMaker, Azure, etc." / "Cost Per Second"): a
deployment billed by the call's duration, not its tokens.

Keys (``litellm_params`` or ``model_info``, USD per second): ``cost_per_second``, else the legacy
aliases ``input_cost_per_second``, then ``output_cost_per_second``; the first one set is the rate,
charged once (never added). As LiteLLM does, the rate is ignored when per-token prices are configured
too. The duration is the whole call, from the request to the last byte (to the last chunk of a stream),
put on the usage by the engine as ``Usage.raw[UNITS_KEY]["second"]`` (a decimal string), so the spend
row keeps the seconds it was billed for and a re-price gives the same amount.

``PerSecondPrice.cost(usage)``: ``rate x seconds`` in the ``second`` category of the breakdown; a
usage without seconds (nothing answered) costs ``$0`` when it has no tokens either, else it is
unpriced with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from ledgerlm.pricing.custom import CUSTOM_PRICE_KEYS, _to_price
from ledgerlm.pricing.price_id import custom_price_id
from ledgerlm.types import Cost, Usage

__all__ = ["PER_SECOND_KEYS", "PerSecondPrice", "per_second_rate", "seconds_usage"]

PER_SECOND_KEYS = ("cost_per_second", "input_cost_per_second", "output_cost_per_second")
"""In precedence order."""
_UNITS_KEY = "ledgerlm_units"  # same key as ledgerlm.usage.media.UNITS_KEY


def per_second_rate(
    litellm_params: Mapping[str, Any], model_info: Mapping[str, Any], path: str
) -> Decimal | None:
    """The USD-per-second rate of a ``model_list`` entry (``litellm_params`` over ``model_info``), or
    ``None`` when none is set or per-token prices are set too. Raises ``ConfigError`` for a bad value."""
    merged = {**model_info, **litellm_params}
    if any(merged.get(key) is not None for key in CUSTOM_PRICE_KEYS):
        return None
    for key in PER_SECOND_KEYS:
        if merged.get(key) is not None:
            where = "litellm_params" if litellm_params.get(key) is not None else "model_info"
            return _to_price(merged[key], f"{path}.{where}.{key}")
    return None


def seconds_usage(usage: Usage, seconds: float) -> Usage:
    """``usage`` with the call's duration as the ``second`` unit (kept when already set)."""
    units = usage.raw.get(_UNITS_KEY)
    if isinstance(units, Mapping) and "second" in units:
        return usage
    duration = Decimal(str(round(max(seconds, 0.0), 3)))  # milliseconds, as the row's times
    return usage.replace(raw={**usage.raw, _UNITS_KEY: {"second": str(duration)}})


class PerSecondPrice:
    """``rate`` USD per second of call (see the module docstring). ``per_second`` tells the engine to
    put the duration on the usage before pricing. Carries what the price book records of a compiled
    price (``provider``, ``model``, ``source``, ``price_id``, ``custom_prices``); no ``max_cost``: the
    duration is not known before the call, so budget admission treats it as unpriced."""

    per_second = True
    source = "custom"
    data_version = None
    max_output_tokens = None

    def __init__(self, rate: Decimal, *, provider: str, model: str) -> None:
        self.rate = rate
        self.provider = provider
        self.model = model
        self.model_ref = f"{provider}/{model}"
        self.custom_prices = {"cost_per_second": rate}
        self.price_id = custom_price_id(self.model_ref, self.custom_prices)

    def _cost(self, amount: Decimal) -> Cost:
        return Cost(
            total=amount,
            breakdown={"second": amount},
            source="custom",
            model_ref=self.model_ref,
            price_id=self.price_id,
        )

    def cost(self, usage: Usage, *, at: datetime | None = None) -> Cost:
        """``rate x usage.raw[UNITS_KEY]["second"]`` (see the module docstring)."""
        units = usage.raw.get(_UNITS_KEY)
        seconds = units.get("second") if isinstance(units, Mapping) else None
        if seconds is None:
            if usage.total_tokens:
                return Cost.unpriced(f"{self.model_ref!r} is priced per second and the call has no duration")
            return self._cost(Decimal(0))
        return self._cost(self.rate * Decimal(str(seconds)))
