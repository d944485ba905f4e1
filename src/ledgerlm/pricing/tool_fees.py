"""Per-call fees of OpenAI's built-in tools, billed on top of the tokens (Responses API).

Source: OpenAI pricing page (https://openai.com/api/pricing, "Built-in tools"), read 2026-12:

============================ ================== ==========================
output item type             fee                breakdown category
============================ ================== ==========================
``web_search_call``          $10.00 / 1k calls  ``web_search``
``file_search_call``         $2.50 / 1k calls   ``file_search``
============================ ================== ==========================

The counts come from ``Usage.raw[TOOL_CALLS_KEY]`` (``ledgerlm.usage.openai.responses_usage``). A web
search already priced by the catalog (genai-prices ``web_searches_kcount``) is not charged twice.
``code_interpreter_call`` is billed per container session, not per call: it is counted in the raw usage
and not priced here. An unpriced call stays unpriced: a fee never turns "unknown" into a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from ledgerlm.types import Cost, Usage
from ledgerlm.usage.openai import TOOL_CALLS_KEY

__all__ = ["TOOL_CALLS_KEY", "TOOL_FEES", "ToolFeePrice", "add_tool_fees"]


TOOL_FEES: Mapping[str, tuple[str, Decimal]] = {
    "web_search_call": ("web_search", Decimal("0.01")),
    "file_search_call": ("file_search", Decimal("0.0025")),
}
"""Output item type -> (breakdown category, USD per call)."""


def add_tool_fees(cost: Cost, usage: Usage) -> Cost:
    """``cost`` with the tool-call fees of ``usage`` added (total and breakdown); unchanged when the
    call is unpriced or made no billed tool call."""
    counts = usage.raw.get(TOOL_CALLS_KEY)
    if cost.total is None or not isinstance(counts, Mapping):
        return cost
    breakdown = dict(cost.breakdown)
    total = cost.total
    for item_type, (category, fee) in TOOL_FEES.items():
        count = counts.get(item_type)
        if not isinstance(count, int) or count <= 0 or category in breakdown:
            continue
        amount = fee * count
        breakdown[category] = amount
        total += amount
    if total == cost.total:
        return cost
    return replace(cost, total=total, breakdown=breakdown)


class ToolFeePrice:
    """A compiled price (anything with ``cost(usage, at=...)``) plus the tool-call fees."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def cost(self, usage: Usage, *, at: datetime | None = None) -> Cost:
        """The base price's cost of ``usage`` with ``add_tool_fees`` applied."""
        base_cost: Cost = self.base.cost(usage, at=at)
        return add_tool_fees(base_cost, usage)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)
