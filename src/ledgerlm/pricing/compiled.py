"""A deployment's price, resolved and compiled once: ``compile_price(...) -> CompiledPrice``.

``CompiledPrice.cost(usage, at=...)`` is the per-call hot path (a few microseconds): it picks the
price period in effect at ``at`` (genai-prices prices are time-versioned), the service-tier variant
the usage reports (``flex``, ``priority``, ``batch``), and applies a precompiled ``Formula``.

Order of precedence: custom prices (source ``custom``) > a provider-reported cost in the usage
(OpenRouter ``usage.cost``, xAI ``cost_in_usd_ticks``; source ``provider``) > the catalog (source
``catalog``). Without any, the cost is unpriced (``total=None``) with a reason, and a warning is
logged once per provider/model.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_right
from collections.abc import Mapping
from datetime import UTC, datetime
from datetime import time as dt_time
from decimal import Decimal
from typing import Any

from genai_prices.types import (
    ConditionalPrice,
    ModelInfo,
    ModelPrice,
    StartDateConstraint,
    TieredPrices,
    TimeOfDateConstraint,
)

from ledgerlm.pricing.catalog import CatalogMatch, data_version, resolve_model
from ledgerlm.pricing.custom import custom_formula, validate_custom_prices
from ledgerlm.pricing.formula import Formula, Rate
from ledgerlm.pricing.model_registry import registered
from ledgerlm.pricing.price_id import catalog_price_id, custom_price_id, provider_price_id
from ledgerlm.types import Cost, Usage

__all__ = ["CompiledPrice", "catalog_formula", "compile_price"]

log = logging.getLogger("ledgerlm.pricing")

# genai-prices price keys -> (category, unit scale: price is per 10**-scale units).
_CATALOG_KEYS: dict[str, tuple[str, int]] = {
    "input_mtok": ("input", -6),
    "output_mtok": ("output", -6),
    "cache_read_mtok": ("cache_read", -6),
    "cache_write_mtok": ("cache_write", -6),
    "cache_write_1h_mtok": ("cache_write_1h", -6),
    "input_audio_mtok": ("input_audio", -6),
    "output_audio_mtok": ("output_audio", -6),
    "input_image_mtok": ("input_image", -6),
    "output_image_mtok": ("output_image", -6),
    "output_reasoning_mtok": ("reasoning", -6),
    "web_searches_kcount": ("web_search", -3),
    "requests_kcount": ("request", -3),
}

# Usage.service_tier values -> genai-prices price context.
_TIER_CONTEXT: dict[str, dict[str, str]] = {
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
    "fast": {"service_tier": "fast"},
    "batch": {"processing": "batch"},
}

_warned: set[tuple[str, str]] = set()


def catalog_formula(price: ModelPrice) -> Formula:
    """Compile a genai-prices ``ModelPrice`` (USD per million tokens / per thousand searches or
    requests) into per-unit rates. Price keys ledgerlm has no usage count for are not priced."""
    rates: dict[str, Rate] = {}
    for key, (category, scale) in _CATALOG_KEYS.items():
        value = getattr(price, key, None)
        if isinstance(value, TieredPrices):
            tiers = tuple((t.start, Decimal(t.price).scaleb(scale)) for t in value.tiers)
            rates[category] = Rate(Decimal(value.base).scaleb(scale), tiers)
        elif isinstance(value, Decimal):
            rates[category] = Rate(value.scaleb(scale))
    return Formula(rates)


class CompiledPrice:
    """A deployment's price: ``cost(usage, *, at=None) -> Cost`` in USD (see module docstring).

    Attributes: ``provider``, ``model``, ``source`` (``"custom"``, ``"catalog"`` or ``None`` when
    unpriced), ``model_ref`` (catalog ``provider/model`` matched or the custom-priced model),
    ``data_version``, ``unpriced_reason``, ``max_output_tokens`` (``None`` when unknown), ``price_id``
    (the price book entry of the custom or catalog price, ``None`` when unpriced), ``custom_prices``
    (the validated LiteLLM price keys, ``None`` without custom prices).
    """

    def __init__(
        self,
        provider: str,
        model: str,
        *,
        formula: Formula | None = None,
        match: CatalogMatch | None = None,
        unpriced_reason: str | None = None,
        max_output_tokens: int | None = None,
        custom_prices: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.data_version = data_version()
        self.max_output_tokens = max_output_tokens
        self._custom = formula
        self._match = match
        self.unpriced_reason = unpriced_reason
        self.source: str | None = "custom" if formula is not None else ("catalog" if match else None)
        self.model_ref = match.model_ref if match is not None else (model if formula is not None else None)
        self._info: ModelInfo | None = match.model if match is not None else None
        self._periods: tuple[ConditionalPrice, ...] = ()
        self._dated_variants: tuple[Any, ...] = ()
        self._cache: dict[tuple[object, str | None], tuple[Formula, str | None]] = {}
        if self._info is not None:
            prices = self._info.prices
            self._periods = tuple(prices) if isinstance(prices, list) else ()
            self._dated_variants = tuple(
                v for v in self._info.price_variants or () if v.constraint is not None
            )
        self._daily, self._bounds = _segments(self._periods, self._dated_variants)
        self.custom_prices = dict(custom_prices) if custom_prices else None
        self.price_id = _price_id(self, self.custom_prices)
        self._provider_price_id = provider_price_id(f"{provider}/{model}")
        self._unpriced = Cost.unpriced(unpriced_reason or "", data_version=self.data_version)

    @property
    def priced(self) -> bool:
        """True when custom or catalog prices are known (a provider-reported cost may still apply)."""
        return self.source is not None

    def cost(self, usage: Usage, *, at: datetime | None = None, service_tier: str | None = None) -> Cost:
        """The ``Cost`` of ``usage`` at time ``at`` (call start; default now, naive = UTC).

        ``service_tier``: the tier the request asked for (``"flex"``, ``"priority"``, ``"batch"``),
        used when the response's usage names none (the response's own tier wins).
        """
        custom = self._custom
        if custom is not None:
            total, breakdown, tier = custom.apply(usage)
            return Cost(
                total,
                breakdown,
                "USD",
                None,
                "custom",
                self.model_ref,
                tier,
                self.data_version,
                self.price_id,
            )
        reported = usage.provider_cost
        if reported is not None and reported >= 0:
            return Cost(
                reported, {"provider_reported": reported}, "USD", None, "provider",
                self.model_ref, None, self.data_version, self._provider_price_id,
            )  # fmt: skip
        if self._info is None:
            self._warn_once()
            return self._unpriced
        formula, variant = self._formula(at, usage.service_tier or service_tier)
        total, breakdown, tier = formula.apply(usage)
        if variant is not None:
            tier = variant if tier is None else f"{variant}+{tier}"
        return Cost(
            total, breakdown, "USD", None, "catalog", self.model_ref, tier, self.data_version, self.price_id
        )

    def _formula(self, at: datetime | None, service_tier: str | None) -> tuple[Formula, str | None]:
        """The compiled formula and variant label for the price period at ``at`` (cached).

        Start-date constraints become epoch boundaries (the period is one ``bisect``), daily
        time-of-day windows (DeepSeek off-peak) become UTC seconds-of-day ranges.
        """
        variant = service_tier.lower() if service_tier else None
        if variant not in _TIER_CONTEXT:
            variant = None
        if self._daily:
            ts = time.time() if at is None else _timestamp(at)
            seconds = ts % 86400
            segment: object = (
                bisect_right(self._bounds, ts),
                tuple(
                    start <= seconds < end if start < end else seconds >= start or seconds < end
                    for start, end in self._daily
                ),
            )
        elif self._bounds:
            segment = bisect_right(self._bounds, time.time() if at is None else _timestamp(at))
        else:
            segment = 0
        key = (segment, variant)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._compile_segment(at, variant)
        return hit

    def _compile_segment(self, at: datetime | None, variant: str | None) -> tuple[Formula, str | None]:
        assert self._info is not None
        context = _TIER_CONTEXT.get(variant) if variant else None
        when = _utc(at)
        formula = catalog_formula(self._info.get_prices(when, context))
        return formula, variant if _has_variant(self._info, context, when) else None

    def _warn_once(self) -> None:
        key = (self.provider, self.model)
        if key not in _warned:
            _warned.add(key)
            log.warning("unpriced model %s/%s: %s", self.provider, self.model, self.unpriced_reason)

    def max_cost(
        self, input_tokens: int, max_output_tokens: int, *, at: datetime | None = None
    ) -> Decimal | None:
        """Worst-case USD cost of a request (for budget reservations), or ``None`` when unpriced.

        Every input token at the dearest input-side rate, every output token at the dearest output-side
        rate, at the tier ``input_tokens`` reaches, plus the per-request fee (searches not counted).
        """
        if self._custom is not None:
            formula = self._custom
        elif self._info is not None:
            formula = self._formula(at, None)[0]
        else:
            return None
        return _worst_case(formula, input_tokens, max_output_tokens)

    def __repr__(self) -> str:
        ref = self.model_ref
        return f"CompiledPrice({self.provider!r}, {self.model!r}, source={self.source!r}, ref={ref!r})"


def _price_id(price: CompiledPrice, custom: Mapping[str, Decimal] | None) -> str | None:
    """The price book id of ``price``'s custom or catalog price (``ledgerlm.pricing.price_id``)."""
    if price.source == "custom":
        return custom_price_id(f"{price.provider}/{price.model}", custom or {})
    if price.source == "catalog" and price.model_ref is not None:
        return catalog_price_id(price.model_ref, price.data_version)
    return None


def _worst_case(formula: Formula, input_tokens: int, output_tokens: int) -> Decimal:
    def dearest(categories: tuple[str, ...]) -> Decimal:
        rates = [formula.rates[c].at_tier(tier) for c in categories if c in formula.rates]
        return max(rates, default=Decimal(0))

    thresholds = sorted({t for r in formula.rates.values() for t, _ in r.tiers})
    tier = sum(1 for t in thresholds if input_tokens > t) - 1
    inputs = ("input", "cache_write", "cache_write_1h", "input_audio", "input_image", "cache_read")
    outputs = ("output", "reasoning", "output_audio", "output_image")
    request = formula.rates["request"].at_tier(tier) if "request" in formula.rates else Decimal(0)
    return dearest(inputs) * max(0, input_tokens) + dearest(outputs) * max(0, output_tokens) + request


def _has_variant(info: ModelInfo | None, context: Mapping[str, str] | None, when: datetime) -> bool:
    """True when a price variant matching ``context`` is in effect at ``when``."""
    if info is None or not context:
        return False
    return any(
        all(context.get(k) == v for k, v in variant.when.items())
        and (variant.constraint is None or variant.constraint.active(when))
        for variant in info.price_variants or ()
    )


def _segments(
    periods: tuple[ConditionalPrice, ...], variants: tuple[Any, ...]
) -> tuple[tuple[tuple[float, float], ...], tuple[float, ...]]:
    """``(daily UTC windows as (start, end) seconds of day, sorted epoch seconds where a start-date
    price begins)`` of every price period and dated variant."""
    constraints = [p.constraint for p in periods] + [v.constraint for v in variants]
    daily = tuple(
        (_seconds_of_day(c.start_time), _seconds_of_day(c.end_time))
        for c in constraints
        if isinstance(c, TimeOfDateConstraint)
    )
    starts = {
        datetime.combine(c.start_date, dt_time(0), tzinfo=UTC).timestamp()
        for c in constraints
        if isinstance(c, StartDateConstraint)
    }
    return daily, tuple(sorted(starts))


def _seconds_of_day(value: dt_time) -> float:
    """A time of day as UTC seconds since midnight (naive = UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    utc = datetime.combine(datetime(1970, 1, 2).date(), aware).astimezone(UTC)
    return float(utc.hour * 3600 + utc.minute * 60 + utc.second) + utc.microsecond / 1e6


def _timestamp(at: datetime) -> float:
    """Epoch seconds of ``at`` (naive = UTC)."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(tz=UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def compile_price(
    provider: str,
    model: str,
    *,
    custom: Mapping[str, Any] | None = None,
    base_model: str | None = None,
    max_output_tokens: int | None = None,
) -> CompiledPrice:
    """Resolve and compile the price of ``provider``/``model`` once.

    ``custom``: LiteLLM-style price keys (see ``ledgerlm.pricing.custom``), overriding the catalog
    (validated: raises ``ledgerlm.errors.ConfigError``). ``base_model``: price the deployment as this
    catalog model instead (e.g. an Azure deployment name). Without ``custom``, a model registered with
    ``register_model`` is priced from its entry. Never raises for an unknown model: the
    result is unpriced with a reason.
    """
    entry = None if custom else registered(provider, base_model or model)
    if entry is not None:  # ledgerlm.register_model (LiteLLM's model_cost entries)
        custom = entry
        limit = entry.get("max_output_tokens") or entry.get("max_tokens")
        if max_output_tokens is None and isinstance(limit, int) and limit > 0:
            max_output_tokens = limit
    if custom:
        prices = validate_custom_prices(custom, path="custom")
        if prices:
            return CompiledPrice(
                provider,
                model,
                formula=custom_formula(prices),
                max_output_tokens=max_output_tokens,
                custom_prices=prices,
            )
    target = base_model or model
    match = resolve_model(provider, target)
    if match is None:
        reason = f"no price known for {provider}/{target} in {data_version()}"
        return CompiledPrice(provider, model, unpriced_reason=reason, max_output_tokens=max_output_tokens)
    return CompiledPrice(provider, model, match=match, max_output_tokens=max_output_tokens)
