"""A compiled price formula: per-unit ``Decimal`` rates per category -> a ``Usage``'s cost.

Categories (the ``Cost.breakdown`` keys) and the usage counts they price (tokens unless noted):

* ``input``: input tokens not priced by a more specific input category below;
* ``cache_read``, ``cache_write`` (all TTLs, less the 1-hour part when that has its own rate),
  ``cache_write_1h``, ``input_audio``, ``input_image``;
* ``output``: output tokens not priced by ``reasoning``, ``output_audio``, ``output_image``;
* ``web_search`` (per search), ``request`` (per call).

A category without a rate is priced as its parent (``input`` / ``output``), the rule genai-prices uses:
cache reads without a cache-read price cost the input price, reasoning without its own price costs the
output price. Tiers: once ``usage.input_tokens`` exceeds a tier's threshold the WHOLE request is priced
at that tier's rates (per category). Counts are clamped so no category is ever negative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from ledgerlm.types import Usage

__all__ = ["CATEGORIES", "Formula", "Rate"]

CATEGORIES: tuple[str, ...] = (
    "input",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "input_audio",
    "input_image",
    "output",
    "reasoning",
    "output_audio",
    "output_image",
    "web_search",
    "request",
)

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per unit (token, search or request): ``base``, and ``tiers`` as ``(threshold, rate)``
    sorted ascending; a tier applies when the request's input tokens exceed its threshold."""

    base: Decimal
    tiers: tuple[tuple[int, Decimal], ...] = ()

    def at_tier(self, index: int) -> Decimal:
        """The rate for tier ``index`` (``-1`` = base); a rate with fewer tiers uses its highest."""
        if index < 0 or not self.tiers:
            return self.base
        return self.tiers[min(index, len(self.tiers) - 1)][1]


class Formula:
    """Rates per category, compiled for speed. ``apply(usage) -> (total, breakdown, tier label)``."""

    __slots__ = (
        "_flat",
        "_has",
        "_in_leaves",
        "_out_leaves",
        "_request",
        "_search",
        "_thresholds",
        "_tier_rates",
        "rates",
    )

    def __init__(self, rates: Mapping[str, Rate]) -> None:
        unknown = set(rates) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown price categories: {sorted(unknown)}")
        self.rates: dict[str, Rate] = dict(rates)
        self._has = has = frozenset(rates)
        one_hour_apart = "cache_write_1h" in has
        self._in_leaves: tuple[tuple[str, str, str | None], ...] = tuple(
            leaf
            for leaf in (
                ("cache_read", "cache_read_tokens", None),
                ("cache_write_1h", "cache_write_1h_tokens", None),
                ("cache_write", "cache_write_tokens", "cache_write_1h_tokens" if one_hour_apart else None),
                ("input_audio", "input_audio_tokens", None),
                ("input_image", "input_image_tokens", None),
            )
            if leaf[0] in has
        )
        self._out_leaves: tuple[tuple[str, str, str | None], ...] = tuple(
            leaf
            for leaf in (
                ("reasoning", "reasoning_tokens", None),
                ("output_audio", "output_audio_tokens", None),
                ("output_image", "output_image_tokens", None),
            )
            if leaf[0] in has
        )
        self._search = "web_search" in has
        self._request = "request" in has
        thresholds = sorted({t for r in rates.values() for t, _ in r.tiers})
        self._thresholds: tuple[int, ...] = tuple(thresholds)
        self._flat: dict[str, Decimal] = {k: r.base for k, r in rates.items()}
        self._tier_rates: tuple[dict[str, Decimal], ...] = tuple(
            {k: _rate_above(r, t) for k, r in rates.items()} for t in thresholds
        )

    @property
    def is_free(self) -> bool:
        """True when every rate (and tier) is zero."""
        return all(r.base == 0 and all(p == 0 for _, p in r.tiers) for r in self.rates.values())

    def _select(self, input_tokens: int) -> tuple[dict[str, Decimal], str | None]:
        chosen, label = self._flat, None
        for index, threshold in enumerate(self._thresholds):
            if input_tokens > threshold:
                chosen, label = self._tier_rates[index], f"above_{_k(threshold)}_tokens"
        return chosen, label

    def counts(self, u: Usage) -> dict[str, int]:
        """Usage counts per priced category (leaves of the input/output trees, never negative)."""
        out: dict[str, int] = {}
        rest = u.input_tokens
        for cat, attr, minus in self._in_leaves:
            count = getattr(u, attr) - (getattr(u, minus) if minus else 0)
            if count > 0:
                count = min(count, rest)
                out[cat] = count
                rest -= count
        out["input"] = rest
        rest = u.output_tokens
        for cat, attr, _ in self._out_leaves:
            count = getattr(u, attr)
            if count > 0:
                count = min(count, rest)
                out[cat] = count
                rest -= count
        out["output"] = rest
        if u.web_search_requests and self._search:
            out["web_search"] = u.web_search_requests
        if self._request:
            out["request"] = 1
        return out

    def apply(self, usage: Usage) -> tuple[Decimal, dict[str, Decimal], str | None]:
        """``(total USD, breakdown per category summing exactly to total, tier label or None)``.

        Categories with a zero count are left out of the breakdown; an empty usage costs 0.
        """
        rates, label = self._select(usage.input_tokens) if self._thresholds else (self._flat, None)
        breakdown: dict[str, Decimal] = {}
        total = _ZERO
        for cat, count in self.counts(usage).items():
            if count:
                amount = rates.get(cat, _ZERO) * count
                breakdown[cat] = amount
                total += amount
        return total, breakdown, label


def _rate_above(rate: Rate, threshold: int) -> Decimal:
    """The rate that applies once input exceeds ``threshold`` (highest tier at or below it)."""
    chosen = rate.base
    for start, price in rate.tiers:
        if start <= threshold:
            chosen = price
    return chosen


def _k(tokens: int) -> str:
    return f"{tokens // 1000}k" if tokens % 1000 == 0 else str(tokens)
