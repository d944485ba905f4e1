"""The price book: effective-dated price entries, and the price in force for a model at a time.

A ``PriceEntry`` is one price with its provenance: ``price_id`` (``ledgerlm.pricing.price_id``),
``model`` (the priced model, ``"provider/model"`` as spend rows name it: ``custom_llm_provider`` /
``model``), ``source`` (``catalog``, ``custom`` or ``provider``), ``effective_from`` (inclusive) and
``effective_to`` (exclusive, ``None`` = still in force), and for custom prices the LiteLLM price keys
(USD per unit). Entries of one model never overlap: a new price closes the open entry.

``PriceBook(entries)`` answers ``in_force(model, at)`` (the entry covering ``at``) and ``first(model)``
(the earliest entry: what back-fills rows of a model used before anyone priced it). Stored in the
database by ``ledgerlm.store.price_book``; read from a file by ``ledgerlm.pricing.book_file``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from ledgerlm.pricing.compiled import CompiledPrice

__all__ = ["PriceBook", "PriceEntry", "PriceSource", "entry_for_price", "model_key"]

PriceSource = Literal["catalog", "custom", "provider"]


def model_key(provider: str | None, model: str) -> str:
    """The price book key of a spend row or deployment: ``"provider/model"`` (``model`` alone when no
    provider is known)."""
    return f"{provider}/{model}" if provider else model


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """One effective-dated price (see the module docstring). Times are aware UTC datetimes."""

    price_id: str
    model: str
    source: PriceSource
    effective_from: datetime
    effective_to: datetime | None = None
    model_ref: str | None = None
    data_version: str | None = None
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    note: str | None = None

    def covers(self, at: datetime) -> bool:
        """True when ``at`` is in ``[effective_from, effective_to)``."""
        return self.effective_from <= at and (self.effective_to is None or at < self.effective_to)


def entry_for_price(price: CompiledPrice, effective_from: datetime) -> PriceEntry | None:
    """The open entry of a compiled deployment price (``None`` when it is unpriced)."""
    if price.price_id is None or price.source is None:
        return None
    source: PriceSource = "custom" if price.source == "custom" else "catalog"
    return PriceEntry(
        price_id=price.price_id,
        model=model_key(price.provider, price.model),
        source=source,
        effective_from=effective_from,
        model_ref=price.model_ref,
        data_version=price.data_version,
        prices=dict(price.custom_prices or {}),
    )


class PriceBook:
    """Entries per model, sorted by ``effective_from``; lookups are a ``bisect``."""

    def __init__(self, entries: Iterable[PriceEntry] = ()) -> None:
        by_model: dict[str, list[PriceEntry]] = {}
        for entry in entries:
            by_model.setdefault(entry.model, []).append(entry)
        self._entries = {m: sorted(es, key=lambda e: e.effective_from) for m, es in by_model.items()}
        self._starts = {m: [e.effective_from for e in es] for m, es in self._entries.items()}

    def __len__(self) -> int:
        return sum(len(es) for es in self._entries.values())

    @property
    def models(self) -> list[str]:
        """Every model the book prices, sorted."""
        return sorted(self._entries)

    def entries(self, model: str) -> list[PriceEntry]:
        """The entries of ``model``, oldest first (empty when none)."""
        return list(self._entries.get(model, ()))

    def in_force(self, model: str, at: datetime) -> PriceEntry | None:
        """The entry of ``model`` covering ``at``, or ``None``."""
        starts = self._starts.get(model)
        if not starts:
            return None
        index = bisect_right(starts, at) - 1
        if index < 0:
            return None
        entry = self._entries[model][index]
        return entry if entry.covers(at) else None

    def first(self, model: str) -> PriceEntry | None:
        """The earliest entry of ``model`` (the first price ever known), or ``None``."""
        entries = self._entries.get(model)
        return entries[0] if entries else None

    def overlay(self, other: PriceBook) -> PriceBook:
        """A book where ``other``'s entries replace this book's for every model ``other`` prices."""
        kept = [e for m, es in self._entries.items() if m not in other._entries for e in es]
        return PriceBook([*kept, *(e for es in other._entries.values() for e in es)])
