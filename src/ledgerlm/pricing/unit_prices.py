"""Prices of the calls billed per unit rather than per token: images, audio seconds, speech
characters, rerank searches, and the free calls (moderations, token counting).

Units are read from ``Usage.raw[UNITS_KEY]`` (``ledgerlm.usage.media``): ``{"image": n,
"audio_second": s, "character": c, "search": k, "request": 1}``; each is a ``Cost.breakdown`` category.

Where genai-prices has the rate it is used (``audio_hours`` -> per second, ``input_mchars`` -> per
character; e.g. ``whisper-1``, ``tts-1``, ``tts-1-hd``); otherwise the documented tables below. Sources:
OpenAI pricing page (https://openai.com/api/pricing, "Image generation", "Transcription and speech",
"Moderation": free) and Cohere pricing (https://cohere.com/pricing, "Rerank": $2.00 / 1k searches),
read 2026-12:

================ ============================================ ==========================
model            rate                                         unit
================ ============================================ ==========================
dall-e-2         256x256 $0.016, 512x512 $0.018, 1024x1024 $0.02 image
dall-e-3         standard 1024x1024 $0.04, 1024x1792/1792x1024 $0.08;  image
                 hd 1024x1024 $0.08, 1024x1792/1792x1024 $0.12
gpt-image-1      low 1024x1024 $0.011, 1024x1536/1536x1024 $0.016;     image (when the answer
                 medium $0.042 / $0.063; high $0.167 / $0.25            has no token usage)
whisper-1        $0.006 / minute                                 audio_second
tts-1 / tts-1-hd $15 / $30 per 1M characters                     character
rerank-*         $0.002 per search unit (Cohere)                 search
moderation       $0 (free)                                        request
================ ============================================ ==========================

An image of a size or quality the table does not list is "unpriced" with the reason, never $0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from ledgerlm.types import Cost, Usage

__all__ = [
    "IMAGE_PRICES",
    "PER_UNIT_PRICES",
    "UNITS_KEY",
    "UnitPrice",
    "image_rate",
    "unit_rates",
]

UNITS_KEY = "ledgerlm_units"
"""Key in ``Usage.raw`` holding the billed units of a per-unit call."""

_STD, _HD = "standard", "hd"
IMAGE_PRICES: Mapping[str, Mapping[tuple[str, str], Decimal]] = {
    "dall-e-2": {
        (_STD, "256x256"): Decimal("0.016"),
        (_STD, "512x512"): Decimal("0.018"),
        (_STD, "1024x1024"): Decimal("0.02"),
    },
    "dall-e-3": {
        (_STD, "1024x1024"): Decimal("0.04"),
        (_STD, "1024x1792"): Decimal("0.08"),
        (_STD, "1792x1024"): Decimal("0.08"),
        (_HD, "1024x1024"): Decimal("0.08"),
        (_HD, "1024x1792"): Decimal("0.12"),
        (_HD, "1792x1024"): Decimal("0.12"),
    },
    "gpt-image-1": {
        ("low", "1024x1024"): Decimal("0.011"),
        ("low", "1024x1536"): Decimal("0.016"),
        ("low", "1536x1024"): Decimal("0.016"),
        ("medium", "1024x1024"): Decimal("0.042"),
        ("medium", "1024x1536"): Decimal("0.063"),
        ("medium", "1536x1024"): Decimal("0.063"),
        ("high", "1024x1024"): Decimal("0.167"),
        ("high", "1024x1536"): Decimal("0.25"),
        ("high", "1536x1024"): Decimal("0.25"),
    },
}
"""USD per image by (quality, size), OpenAI pricing page."""

_DEFAULTS = {
    "dall-e-2": (_STD, "1024x1024"),
    "dall-e-3": (_STD, "1024x1024"),
    "gpt-image-1": ("high", "1024x1024"),
}
_QUALITY_ALIASES = {
    "auto": None,
    "medium": "medium",
    "standard": _STD,
    "hd": _HD,
    "high": "high",
    "low": "low",
}

PER_UNIT_PRICES: Mapping[str, Mapping[str, Decimal]] = {
    "whisper-1": {"audio_second": Decimal("0.0001")},
    "tts-1": {"character": Decimal("0.000015")},
    "tts-1-hd": {"character": Decimal("0.00003")},
    "rerank-v3.5": {"search": Decimal("0.002")},
    "rerank-english-v3.0": {"search": Decimal("0.002")},
    "rerank-multilingual-v3.0": {"search": Decimal("0.002")},
}
"""Fallback USD per unit when genai-prices has no rate (documented in the module table)."""

_FREE_PREFIXES = ("omni-moderation", "text-moderation")
_CATALOG_UNITS = {
    "audio_hours": ("audio_second", Decimal(3600)),
    "input_mchars": ("character", Decimal(10**6)),
}


def _base_name(model: str) -> str:
    return model.rsplit("/", 1)[-1]


def image_rate(model: str, size: Any, quality: Any) -> tuple[Decimal | None, str]:
    """``(USD per image or None, description)`` for ``model`` at ``size`` / ``quality`` (defaults:
    the API's, ``auto`` = the model's default)."""
    name = _base_name(model)
    table = next((t for m, t in IMAGE_PRICES.items() if name == m or name.startswith(m + "-")), None)
    if table is None:
        return None, f"no per-image price for {model!r}"
    default_quality, default_size = _DEFAULTS[next(m for m in IMAGE_PRICES if IMAGE_PRICES[m] is table)]
    q = _QUALITY_ALIASES.get(str(quality), str(quality)) if quality is not None else None
    s = default_size if size in (None, "auto") else str(size)
    key = (q or default_quality, s)
    rate = table.get(key)
    if rate is None:
        return None, f"no per-image price for {model!r} at quality {key[0]!r} size {key[1]!r}"
    return rate, f"{name} {key[0]} {key[1]}"


def _catalog_rates(provider: str, model: str) -> dict[str, Decimal]:
    """Per-unit rates genai-prices has for ``provider``/``model`` (audio hours, characters)."""
    from ledgerlm.pricing.catalog import resolve_model

    try:
        match = resolve_model(provider, model)
    except Exception:  # a catalog lookup problem means "no catalog rate", never a lost call
        return {}
    prices = getattr(match.model, "prices", None) if match is not None else None
    out: dict[str, Decimal] = {}
    for key, (category, per) in _CATALOG_UNITS.items():
        value = getattr(prices, key, None)
        if isinstance(value, Decimal):
            out[category] = value / per
    return out


def unit_rates(provider: str, model: str) -> dict[str, Decimal]:
    """USD per unit category for ``provider``/``model``: genai-prices first, then the table; a
    moderation model is free (``request`` at $0)."""
    name = _base_name(model)
    if name.startswith(_FREE_PREFIXES):
        return {"request": Decimal(0)}
    rates = dict(PER_UNIT_PRICES.get(name, {}))
    rates.update(_catalog_rates(provider, model))
    return rates


class UnitPrice:
    """A per-call price: ``rates`` (USD per unit category) for the units in ``Usage.raw[UNITS_KEY]``,
    else the token price ``base`` (a compiled price, or ``None``). ``token_first``: when the call
    reports tokens and ``base`` prices them, tokens win (gpt-image-1, gpt-4o-transcribe)."""

    def __init__(
        self,
        base: Any,
        rates: Mapping[str, Decimal],
        *,
        model: str,
        token_first: bool = False,
        missing: str | None = None,
    ) -> None:
        self.base = base
        self.rates = dict(rates)
        self.model = model
        self.token_first = token_first
        self.missing = missing

    def cost(self, usage: Usage, *, at: datetime | None = None) -> Cost:
        """The cost of ``usage`` (see the class docstring); unpriced with the reason when a unit has
        no rate or the answer reported nothing billable (never $0 by default)."""
        found = usage.raw.get(UNITS_KEY)
        units = found if isinstance(found, Mapping) else None
        if self.base is not None and usage.total_tokens and (units is None or self.token_first):
            token_cost: Cost = self.base.cost(usage, at=at)
            if token_cost.priced or units is None:
                return token_cost
        if units is None:
            return Cost.unpriced(f"{self.model!r}: the answer reports no billable units or tokens")
        breakdown: dict[str, Decimal] = {}
        for category, count in units.items():
            rate = self.rates.get(category)
            if rate is None:
                return Cost.unpriced(self.missing or f"no {category} price for {self.model!r}")
            breakdown[category] = rate * Decimal(str(count))
        total = sum(breakdown.values(), Decimal(0))
        return Cost(total=total, breakdown=breakdown, source="custom", model_ref=self.model)
