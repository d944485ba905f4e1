"""Price a stored spend row again under a price book: the heart of re-pricing and back-fill.

``RowPricer(book).price(row) -> Cost | None`` for a ``StoredCall`` (what a spend row says about the
call: provider, model, start time, canonical usage):

1. the book's entry for ``provider/model`` in force at the call's start time;
2. none, and the row is unpriced: the model's FIRST entry (a back-fill: the first price ever known
   applies to calls made before anyone priced the model), else the bundled catalog when it now knows
   the model;
3. a ``custom`` entry prices with its own rates; a ``catalog`` entry with the bundled catalog's price in
   force at the call's time (genai-prices' dated periods, service tiers); a ``provider`` entry or no
   entry: ``None`` (nothing to re-price: a provider-reported cost is what was billed).

Compiled formulas are cached per price id / model, so a row costs a few microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ledgerlm.pricing.book import PriceBook, PriceEntry, model_key
from ledgerlm.pricing.compiled import CompiledPrice, compile_price
from ledgerlm.pricing.custom import custom_formula
from ledgerlm.pricing.formula import Formula
from ledgerlm.types import USAGE_COUNT_FIELDS, Cost, Usage

__all__ = ["RowPricer", "StoredCall", "usage_from_row"]


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A spend row's pricing inputs: ``provider`` (``custom_llm_provider``), ``model``, ``start``
    (aware UTC), ``usage`` (canonical), ``priced`` (False when the row is unpriced)."""

    provider: str | None
    model: str
    start: datetime
    usage: Usage
    priced: bool


def usage_from_row(usage: Mapping[str, Any] | None, row: Mapping[str, Any]) -> Usage:
    """The canonical ``Usage`` of a spend row: ``metadata.usage`` (compact: absent = 0), else the token
    columns (``prompt_tokens`` includes cache reads/writes, ``completion_tokens`` reasoning)."""
    if usage:
        counts: dict[str, Any] = {name: int(usage.get(name) or 0) for name in USAGE_COUNT_FIELDS}
        cost = usage.get("provider_cost")
        return Usage(
            **counts,
            service_tier=usage.get("service_tier"),
            provider_cost=None if cost is None else Decimal(str(cost)),
        )
    return Usage(
        input_tokens=int(row.get("prompt_tokens") or 0),
        output_tokens=int(row.get("completion_tokens") or 0),
        cache_read_tokens=int(row.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(row.get("cache_creation_input_tokens") or 0),
        reasoning_tokens=int(row.get("reasoning_tokens") or 0),
    )


class RowPricer:
    """``price(call) -> Cost | None`` under ``book`` (see the module docstring)."""

    def __init__(self, book: PriceBook) -> None:
        self.book = book
        self._formulas: dict[str, Formula] = {}
        self._compiled: dict[tuple[str, str], CompiledPrice] = {}

    def entry(self, call: StoredCall) -> PriceEntry | None:
        """The book entry that prices ``call`` (rules 1 and 2), or ``None``."""
        key = model_key(call.provider, call.model)
        found = self.book.in_force(key, call.start)
        if found is None and not call.priced:
            found = self.book.first(key)
        return found

    def price(self, call: StoredCall) -> Cost | None:
        """The cost of ``call`` under the book, or ``None`` when the book does not price it."""
        entry = self.entry(call)
        if entry is None:
            return None if call.priced else self._catalog(call)
        if entry.source == "custom":
            formula = self._formulas.get(entry.price_id)
            if formula is None:
                formula = self._formulas[entry.price_id] = custom_formula(entry.prices)
            total, breakdown, tier = formula.apply(call.usage)
            return Cost(total, breakdown, "USD", None, "custom", entry.model, tier, None, entry.price_id)
        if entry.source == "catalog":
            return self._catalog(call)
        return None

    def _catalog(self, call: StoredCall) -> Cost | None:
        provider = call.provider or ""
        compiled = self._compiled.get((provider, call.model))
        if compiled is None:
            compiled = self._compiled[(provider, call.model)] = compile_price(provider, call.model)
        if compiled.source != "catalog":
            return None
        cost = compiled.cost(call.usage, at=call.start)
        return cost if cost.source == "catalog" else None
