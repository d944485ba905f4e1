"""Spend rows and adjustments -> FOCUS 1.2 rows (dicts keyed by ``focus_columns.COLUMN_NAMES``).

* ``usage_charges(row, options)``: one ``ChargeCategory=Usage`` row per token category of one call
  (``input``, ``cache_read``, ``cache_write`` (5-minute TTL), ``cache_write_1h``, ``output``,
  ``reasoning``, audio / image, ``web_search``, ``request``, ``provider_reported``). The category
  amounts come from the call's cost breakdown, quantized to 1e-10 USD like the ledger, the rounding
  residue on the largest one, so a call's rows ALWAYS sum to its ``spend`` exactly. Token counts per
  category are the ones the price formula priced. An unpriced call gives rows of cost 0 with
  ``x_Unpriced = "true"`` (FOCUS costs cannot be null; the flag keeps "unpriced" apart from free).
* ``adjustment_charge(row, options)``: one ``ChargeCategory=Adjustment`` row per adjustment
  (``BilledCost`` = its delta; ``ChargeClass=Correction`` when it corrects a closed period).

Values are Python values (``Decimal``, aware UTC ``datetime``, ``str``, ``None``); ``focus_io`` writes
them. ``ChargePeriodStart``/``End`` of a call cover its start and end, whole seconds (end > start).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ledgerlm.ledger.periods import period_bounds
from ledgerlm.ledger.row_pricing import usage_from_row
from ledgerlm.pricing.formula import CATEGORIES, Formula, Rate
from ledgerlm.store.coltypes import to_decimal

__all__ = ["FocusOptions", "adjustment_charge", "provider_name", "usage_charges"]

_SERVICE_TIERS = ("flex", "priority", "batch", "fast")
_UNITS = {"web_search": "Searches", "request": "Requests"}
_TTL = {"cache_write": "5m", "cache_write_1h": "1h"}
_PROVIDERS = {
    "openai": "OpenAI", "anthropic": "Anthropic", "azure": "Microsoft", "azure_ai": "Microsoft",
    "gemini": "Google", "vertex_ai": "Google", "bedrock": "AWS", "xai": "xAI", "mistral": "Mistral AI",
    "deepseek": "DeepSeek", "groq": "Groq", "openrouter": "OpenRouter", "cohere": "Cohere",
    "together_ai": "Together AI", "fireworks_ai": "Fireworks AI",
}  # fmt: skip
_ZERO = Decimal(0)
_ORDER = {name: index for index, name in enumerate((*CATEGORIES, "provider_reported"))}
_PROBE = Formula({c: Rate(Decimal(1)) for c in CATEGORIES if c not in ("web_search", "request")})


@dataclass(frozen=True, slots=True)
class FocusOptions:
    """Export settings: the billing account the rows are issued under (default ``ledgerlm``)."""

    billing_account_id: str = "ledgerlm"
    billing_account_name: str = "ledgerlm"


def provider_name(provider: str | None) -> str:
    """A display name for a ledgerlm provider (``openai`` -> ``OpenAI``), the name itself otherwise."""
    return _PROVIDERS.get((provider or "").lower(), provider or "unknown")


def _tags(raw: Any) -> tuple[str, str]:
    """``(Tags JSON object, x_RequestTags JSON list)``: ``key:value`` tags become ``{key: value}``."""
    return _tags_of(tuple(str(tag) for tag in raw or ()))


@functools.lru_cache(maxsize=4096)
def _tags_of(tags: tuple[str, ...]) -> tuple[str, str]:
    pairs: dict[str, str] = {}
    for tag in tags:  # "X-Service: checkout" (extra_spend_tag_headers) -> {"X-Service": "checkout"}
        key, _, value = tag.partition(":")
        pairs.setdefault(key.strip(), value.strip())
    return json.dumps(pairs, sort_keys=True), json.dumps(list(tags))


@functools.lru_cache(maxsize=256)
def _billing_period(year: int, month: int) -> tuple[datetime, datetime]:
    return period_bounds(f"{year:04d}-{month:02d}")


@functools.lru_cache(maxsize=256)
def _probe(categories: frozenset[str]) -> Formula:
    """A formula with a rate for each of ``categories``: its ``counts`` are the priced token counts."""
    return Formula({c: Rate(Decimal(1)) for c in categories})


def _common(row: Mapping[str, Any], charge_time: datetime, options: FocusOptions) -> dict[str, Any]:
    """Columns every row of a call (or of its adjustment) shares."""
    billing_start, billing_end = _billing_period(charge_time.year, charge_time.month)
    provider = provider_name(row.get("custom_llm_provider"))
    tags, raw_tags = _tags(row.get("request_tags"))
    return {
        "BillingAccountId": options.billing_account_id,
        "BillingAccountName": options.billing_account_name,
        "BillingCurrency": "USD",
        "BillingPeriodStart": billing_start,
        "BillingPeriodEnd": billing_end,
        "ChargeFrequency": "Usage-Based",
        "InvoiceIssuerName": provider,
        "ProviderName": provider,
        "PublisherName": provider,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceSubcategory": "Generative AI",
        "ServiceName": provider,
        "ResourceId": row.get("model_id") or row["model"],
        "ResourceName": row.get("model_group") or row["model"],
        "ResourceType": "Model",
        "SubAccountId": row.get("team_id"),
        "SubAccountName": row.get("team_id"),
        "Tags": tags,
        "x_Model": row["model"],
        "x_ModelGroup": row.get("model_group"),
        "x_VirtualKey": row.get("api_key"),
        "x_Team": row.get("team_id"),
        "x_User": row.get("user"),
        "x_EndUser": row.get("end_user"),
        "x_RequestTags": raw_tags,
        "x_RequestId": row["request_id"],
        "x_CallCount": Decimal(1),
    }


def _amounts(breakdown: Mapping[str, Any], spend: Decimal) -> dict[str, Decimal]:
    """Category amounts quantized to 1e-10 USD summing exactly to ``spend`` (residue on the largest)."""
    amounts = {k: to_decimal(str(v)) for k, v in breakdown.items()}
    if not amounts:
        return {"provider_reported": spend} if spend else {}
    residue = spend - sum(amounts.values(), _ZERO)
    if residue:
        largest = max(amounts, key=lambda k: (amounts[k], k))
        amounts[largest] += residue
    return amounts


def _quantities(row: Mapping[str, Any], categories: list[str]) -> dict[str, int]:
    usage = usage_from_row(row.get("usage"), row)
    if categories == ["provider_reported"]:
        return {"provider_reported": usage.total_tokens}
    priced = [c for c in categories if c not in ("web_search", "request")]
    counts = _probe(frozenset(priced)).counts(usage) if priced else {}
    counts["web_search"] = usage.web_search_requests
    counts["request"] = 1
    return counts


def _tiers(cost: Mapping[str, Any], usage: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """``(service tier, context tier)`` from the cost's tier label and the usage's service tier."""
    parts = str(cost.get("tier") or "").split("+")
    service = next((p for p in parts if p in _SERVICE_TIERS), None) or (usage or {}).get("service_tier")
    context = next((p for p in parts if p.startswith("above_")), None)
    return service, context


def _period(row: Mapping[str, Any]) -> tuple[datetime, datetime]:
    start = row["startTime"].replace(microsecond=0)
    end = row.get("endTime") or start
    if end.microsecond:
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    return start, max(end, start + timedelta(seconds=1))


def _unpriced_categories(row: Mapping[str, Any]) -> dict[str, Decimal]:
    counts = _PROBE.counts(usage_from_row(row.get("usage"), row))
    return {c: _ZERO for c, n in counts.items() if n}


def usage_charges(row: Mapping[str, Any], options: FocusOptions) -> list[dict[str, Any]]:
    """The FOCUS Usage rows of one spend row (see the module docstring)."""
    cost = row.get("cost") or {}
    spend = row["spend"]
    amounts = _unpriced_categories(row) if spend is None else _amounts(cost.get("breakdown") or {}, spend)
    if not amounts:
        return []
    quantities = _quantities(row, list(amounts))
    common = _common(row, row["startTime"], options)
    start, end = _period(row)
    service, context = _tiers(cost, row.get("usage"))
    out = []
    for category in sorted(amounts, key=lambda c: (_ORDER.get(c, len(_ORDER)), c)):
        out.append(_charge(row, common, category, amounts[category], quantities.get(category, 0)))
        out[-1].update(
            ChargePeriodStart=start, ChargePeriodEnd=end, x_ServiceTier=service, x_ContextTier=context
        )
    return out


def _charge(
    row: Mapping[str, Any], common: dict[str, Any], category: str, amount: Decimal, quantity: int
) -> dict[str, Any]:
    unit = _UNITS.get(category, "Tokens")
    price = (
        None
        if category == "provider_reported" or not quantity
        else (amount / quantity).quantize(Decimal("1e-18"))
    )
    provider = row.get("custom_llm_provider") or ""
    return {
        **common,
        "BilledCost": amount,
        "EffectiveCost": amount,
        "ListCost": amount,
        "ContractedCost": amount,
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": f"{row['model']} {category.replace('_', ' ')}",
        "PricingCategory": "Standard",
        "PricingQuantity": Decimal(quantity),
        "PricingUnit": unit,
        "ConsumedQuantity": Decimal(quantity),
        "ConsumedUnit": unit,
        "ListUnitPrice": price,
        "ContractedUnitPrice": price,
        "SkuId": f"{provider}/{row['model']}/{category}",
        "SkuPriceId": f"{row.get('price_id')}/{category}" if row.get("price_id") else None,
        "x_TokenType": category,
        "x_CacheWriteTTL": _TTL.get(category),
        "x_Reasoning": "true" if category == "reasoning" else "false",
        "x_PriceId": row.get("price_id"),
        "x_Unpriced": "true" if row["spend"] is None else "false",
        "x_CorrectsPeriod": None,
    }


def adjustment_charge(row: Mapping[str, Any], options: FocusOptions) -> dict[str, Any]:
    """The FOCUS Adjustment row of one ``spend_adjustments`` row."""
    charge_time: datetime = row["charge_time"]
    start = charge_time.replace(microsecond=0)
    delta: Decimal = row["delta"]
    corrects = row.get("corrects_period")
    what = "back-fill" if row["kind"] == "backfill" else "re-pricing"
    return {
        **_common(row, charge_time, options),
        "BilledCost": delta,
        "EffectiveCost": delta,
        "ListCost": delta,
        "ContractedCost": delta,
        "ChargeCategory": "Adjustment",
        "ChargeClass": "Correction" if corrects else None,
        "ChargeDescription": f"{what} of {row['request_id']}: {row['reason']}",
        "ChargePeriodStart": start,
        "ChargePeriodEnd": start + timedelta(seconds=1),
        "PricingCategory": "Standard",
        "PricingQuantity": None,
        "PricingUnit": None,
        "ConsumedQuantity": None,
        "ConsumedUnit": None,
        "ListUnitPrice": None,
        "ContractedUnitPrice": None,
        "SkuId": f"{row.get('custom_llm_provider') or ''}/{row['model']}/adjustment",
        "SkuPriceId": row["new_price_id"] or None,
        "x_TokenType": None,
        "x_CacheWriteTTL": None,
        "x_Reasoning": "false",
        "x_ServiceTier": None,
        "x_ContextTier": None,
        "x_PriceId": row["new_price_id"] or None,
        "x_Unpriced": "false",
        "x_CorrectsPeriod": corrects,
    }
