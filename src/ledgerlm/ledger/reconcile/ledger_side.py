"""The ledger's side: ``spend_logs`` rows of one provider in a UTC window -> ``Line`` values.

Each row's canonical usage (``metadata.usage``) is split into disjoint categories and its cost
breakdown (``metadata.cost.breakdown``, USD) assigned to the same categories:

=================  ==========================================================  =====================
category           tokens                                                      breakdown keys
=================  ==========================================================  =====================
input              input - cache reads - cache writes - audio in - image in    input
cached_input       cache reads                                                 cache_read
cache_write_5m     cache writes - 1-hour writes                                cache_write
cache_write_1h     1-hour cache writes                                         cache_write_1h
output             output - audio out - image out (reasoning INCLUDED)         output, reasoning
audio_* / image_*  audio / image tokens                                        input_audio, ...
web_search         web searches                                                web_search
request / total    -                                                           request / provider_reported
=================  ==========================================================  =====================

An unpriced row (``spend`` NULL) adds its tokens with ``usd=None`` and ``unpriced=1``. A row whose
raw usage holds a field ``ledgerlm.usage.known_fields`` does not know is flagged
``unknown_usage_field:<name>``. ``accounts`` maps a deployment id (``spend_logs.model_id``) to the
provider-side project / workspace / API key id it bills to.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.ledger.reconcile.model import Cell, Line
from ledgerlm.ledger.reconcile.normalize import decimal_of, model_key
from ledgerlm.store.spend_queries import day_bounds
from ledgerlm.store.tables import spend_logs
from ledgerlm.usage.known_fields import unknown_usage_fields

__all__ = ["BREAKDOWN_CATEGORIES", "PROVIDER_NAMES", "ledger_lines", "row_lines"]

BREAKDOWN_CATEGORIES: dict[str, str] = {
    "input": "input",
    "cache_read": "cached_input",
    "cache_write": "cache_write_5m",
    "cache_write_1h": "cache_write_1h",
    "output": "output",
    "reasoning": "output",
    "input_audio": "audio_input",
    "output_audio": "audio_output",
    "input_image": "image_input",
    "output_image": "image_output",
    "web_search": "web_search",
    "request": "request",
    "provider_reported": "total",
}

PROVIDER_NAMES: dict[str, tuple[str, ...]] = {
    "openai": ("openai", "text-completion-openai"),
    "anthropic": ("anthropic",),
    "openrouter": ("openrouter",),
    "bedrock": ("bedrock", "bedrock_converse"),
    "vertex": ("vertex_ai", "vertex_ai_beta", "gemini"),
}
"""``--provider`` -> the ``spend_logs.custom_llm_provider`` values it bills."""


def _tokens(usage: Mapping[str, Any]) -> dict[str, int]:
    def n(name: str) -> int:
        value = usage.get(name) or 0
        return int(value) if isinstance(value, int | str) else 0

    writes, writes_1h = n("cache_write_tokens"), n("cache_write_1h_tokens")
    uncached = n("input_tokens") - n("cache_read_tokens") - writes - n("input_audio_tokens")
    return {
        "input": max(0, uncached - n("input_image_tokens")),
        "cached_input": n("cache_read_tokens"),
        "cache_write_5m": max(0, writes - writes_1h),
        "cache_write_1h": writes_1h,
        "output": max(0, n("output_tokens") - n("output_audio_tokens") - n("output_image_tokens")),
        "audio_input": n("input_audio_tokens"),
        "audio_output": n("output_audio_tokens"),
        "image_input": n("input_image_tokens"),
        "image_output": n("output_image_tokens"),
        "web_search": n("web_search_requests"),
    }


def _usd(breakdown: Mapping[str, Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for key, amount in breakdown.items():
        category = BREAKDOWN_CATEGORIES.get(key, "other")
        out[category] = out.get(category, Decimal(0)) + decimal_of(amount)
    return out


def _metadata(value: Any) -> Mapping[str, Any]:
    if isinstance(value, str | bytes):
        value = orjson.loads(value) if value else {}
    return value if isinstance(value, Mapping) else {}


def row_lines(row: Mapping[str, Any], family: str, account: str = "") -> list[Line]:
    """The lines of one ``spend_logs`` row (see module doc)."""
    meta = _metadata(row.get("metadata"))
    usage = meta.get("usage") or {}
    day = row["startTime"].date()
    model = model_key(meta.get("response_model") or row.get("model"))
    flags = tuple(f"unknown_usage_field:{name}" for name in unknown_usage_fields(usage.get("raw"), family))
    tokens = _tokens(usage)
    if row.get("spend") is None:
        return [
            Line(Cell(day, model, category, account), count, None, 1, flags)
            for category, count in tokens.items()
            if count or category == "input"
        ]
    usd = _usd((meta.get("cost") or {}).get("breakdown") or {})
    categories = [c for c in tokens if tokens[c]] + [c for c in usd if not tokens.get(c)]
    return [
        Line(
            Cell(day, model, category, account),
            tokens.get(category, 0),
            usd.get(category, Decimal(0)),
            0,
            flags,
        )
        for category in dict.fromkeys(categories)
    ]


async def ledger_lines(
    engine: AsyncEngine, provider: str, window: tuple[date, date], accounts: Mapping[str, str] | None = None
) -> list[Line]:
    """Every line of ``provider``'s ``spend_logs`` rows started within the inclusive UTC ``window``."""
    from ledgerlm.usage.dispatch import provider_family

    low, high = day_bounds(*window)
    names = PROVIDER_NAMES.get(provider, (provider,))
    c = spend_logs.c
    query = sa.select(c.startTime, c.model, c.model_id, c.spend, c.metadata, c.custom_llm_provider).where(
        c.startTime >= low, c.startTime < high, c.custom_llm_provider.in_(names)
    )
    lines: list[Line] = []
    async with engine.connect() as conn:
        result = await conn.stream(query)
        async for row in result.mappings():
            account = (accounts or {}).get(str(row["model_id"] or ""), "")
            family = provider_family(str(row["custom_llm_provider"]))
            lines.extend(row_lines(dict(row), family, account))
    return lines
