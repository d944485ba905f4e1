"""Pricing: the price catalog (genai-prices + custom prices), compiled per deployment, and cost math.

INTERFACE CONTRACT (the engine and the proxy call this; the cost-engine work implements it):

    price = compile_price(provider, model, custom=None, base_model=None)   # once per deployment
    cost  = price.cost(usage, at=start_datetime)                           # ~1-5 us per call -> Cost
    completion_cost(response, *, provider=None, model=None, at=None, config=None) -> Cost

The implementation in this file is provisional (everything is unpriced).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ledgerlm.types import Cost, Usage

__all__ = ["CompiledPrice", "compile_price"]


class CompiledPrice:
    """A deployment's price, resolved once. ``cost(usage, at=...)`` returns a ``Cost`` in USD."""

    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model

    def cost(self, usage: Usage, *, at: datetime | None = None) -> Cost:
        return Cost.unpriced(f"no price known for {self.provider}/{self.model}")


def compile_price(
    provider: str, model: str, *, custom: Mapping[str, Any] | None = None, base_model: str | None = None
) -> CompiledPrice:
    """Resolve and compile the price of ``provider``/``model`` (custom prices override the catalog)."""
    return CompiledPrice(provider, model)
