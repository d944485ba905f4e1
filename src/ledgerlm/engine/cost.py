"""The cost of a call: the deployment's compiled price (or the catalog's, compiled once per provider and
model) x canonical ``Usage`` -> ``Cost`` (USD ``Decimal``) at the call's start time. A price that cannot
be compiled, or a pricing error, is "unpriced" with its reason, never a lost record."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import Any

from ledgerlm.errors import LedgerLMError
from ledgerlm.providers.base import Deployment
from ledgerlm.types import Cost, Usage

__all__ = ["call_cost", "compiled_price", "with_duration"]


class _UnpricedPrice:
    """Fallback when the price catalog cannot compile a price: every cost is unpriced with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def cost(self, usage: Usage, *, at: datetime | None = None) -> Cost:
        return Cost.unpriced(self.reason)


def compiled_price(deployment: Deployment) -> Any:
    """``deployment.price``, or the catalog's price of its provider/model (compiled once per pair with
    ``ledgerlm.pricing.compile_price``; an error compiles to "unpriced" with the reason)."""
    if deployment.price is not None:
        return deployment.price
    from ledgerlm.pricing.model_registry import version

    return _catalog_price(deployment.provider, deployment.model, version())


@functools.lru_cache(maxsize=1024)
def _catalog_price(provider: str, model: str, registry_version: int = 0) -> Any:
    """``registry_version``: ``ledgerlm.register_model``'s counter (a registration re-prices)."""
    from ledgerlm.pricing import compile_price  # the catalog loads on the first call, not at import

    try:
        return compile_price(provider, model)
    except LedgerLMError as exc:
        return _UnpricedPrice(f"price of {provider}/{model}: {exc}")


def call_cost(deployment: Deployment, usage: Usage, start: float) -> Cost:
    """The call's cost in USD at its start time (epoch seconds)."""
    try:
        cost: Cost = compiled_price(deployment).cost(usage, at=datetime.fromtimestamp(start, tz=UTC))
    except Exception as exc:
        return Cost.unpriced(f"pricing failed for {deployment.provider}/{deployment.model}: {exc!r}")
    return cost


def with_duration(deployment: Deployment, usage: Usage, start: float) -> Usage:
    """``usage`` with the call's duration so far (seconds since ``start``, epoch) as the ``second``
    unit when the deployment is priced per second (``ledgerlm.pricing.per_second``), else unchanged."""
    if not getattr(compiled_price(deployment), "per_second", False):
        return usage
    from ledgerlm.pricing.per_second import seconds_usage

    return seconds_usage(usage, time.time() - start)
