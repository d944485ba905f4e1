"""The vocabulary of ledgerlm: usage, cost, call context and the standard logging payload.

Every other module speaks in these types. Data flows one way (see DESIGN.md section 1)::

    CallContext (who, tags, metadata) --> provider --> Usage --> Cost --> CallRecord --> pipeline

Conventions (DESIGN.md section 3, the OpenTelemetry GenAI conventions and genai-prices):

* all counts are tokens; ``input_tokens`` INCLUDES cache reads and cache writes, ``output_tokens``
  INCLUDES reasoning tokens;
* money is ``Decimal`` USD, never float, until the JSON edge;
* "unpriced" (``Cost.total is None``) is a distinct state from ``Decimal(0)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "USAGE_COUNT_FIELDS",
    "CallContext",
    "Cost",
    "CostSource",
    "Usage",
]

CostSource = Literal["catalog", "custom", "provider"]

USAGE_COUNT_FIELDS: tuple[str, ...] = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "output_image_tokens",
    "web_search_requests",
)


@dataclass(frozen=True, slots=True)
class Usage:
    """Canonical token usage of one call, the same meaning for every provider.

    All counts are tokens (``web_search_requests`` counts searches):

    * ``input_tokens``: every input token billed, INCLUDING ``cache_read_tokens`` and
      ``cache_write_tokens`` (and tool-use prompt tokens, audio and image input tokens).
    * ``cache_read_tokens``: part of ``input_tokens`` read from the provider's prompt cache.
    * ``cache_write_tokens``: part of ``input_tokens`` written to the cache, all TTLs together;
      ``cache_write_1h_tokens`` is the part of it written with a 1-hour TTL (Anthropic).
    * ``output_tokens``: every output token billed, INCLUDING ``reasoning_tokens``.
    * ``reasoning_tokens``: part of ``output_tokens`` spent on reasoning / thinking.
    * ``input_audio_tokens`` / ``input_image_tokens``: parts of ``input_tokens``;
      ``output_audio_tokens`` / ``output_image_tokens``: parts of ``output_tokens``.
    * ``web_search_requests``: server-side web searches billed per search.
    * ``service_tier``: the tier the provider says it served (``"flex"``, ``"priority"``, ...).
    * ``provider_cost``: a cost in USD reported by the provider itself (OpenRouter ``usage.cost``,
      xAI ``cost_in_usd_ticks`` converted), or ``None``.
    * ``raw``: the provider's usage object exactly as received; fields ledgerlm does not map are
      kept here, never dropped.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    input_audio_tokens: int = 0
    output_audio_tokens: int = 0
    input_image_tokens: int = 0
    output_image_tokens: int = 0
    web_search_requests: int = 0
    service_tier: str | None = None
    provider_cost: Decimal | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def total_tokens(self) -> int:
        """``input_tokens + output_tokens`` (tokens)."""
        return self.input_tokens + self.output_tokens

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens neither read from nor written to the cache (tokens, never negative)."""
        return max(0, self.input_tokens - self.cache_read_tokens - self.cache_write_tokens)

    def replace(self, **changes: Any) -> Usage:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: counts as ints, ``provider_cost`` as a decimal string or ``None``."""
        out: dict[str, Any] = {name: getattr(self, name) for name in USAGE_COUNT_FIELDS}
        out["total_tokens"] = self.total_tokens
        out["service_tier"] = self.service_tier
        out["provider_cost"] = None if self.provider_cost is None else format(self.provider_cost, "f")
        out["raw"] = dict(self.raw)
        return out

    def to_openai(self) -> dict[str, Any]:
        """The usage in OpenAI chat-completions form (``prompt_tokens`` includes cached tokens)."""
        out: dict[str, Any] = {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {
                "cached_tokens": self.cache_read_tokens,
                "audio_tokens": self.input_audio_tokens,
            },
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": self.output_audio_tokens,
            },
        }
        if self.cache_write_tokens:
            out["prompt_tokens_details"]["cache_write_tokens"] = self.cache_write_tokens
        return out


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one call in USD.

    * ``total``: ``Decimal`` USD, or ``None`` when unpriced (then ``unpriced_reason`` says why).
    * ``breakdown``: per category (``input``, ``cache_read``, ``cache_write``, ``cache_write_1h``,
      ``output``, ``reasoning``, ``input_audio``, ``output_audio``, ``input_image``,
      ``output_image``, ``request``, ``web_search``, ``provider_reported``), summing exactly to
      ``total``. Empty when unpriced.
    * provenance: ``source`` (catalog / custom / provider), ``model_ref`` (the catalog model id
      matched, or the custom-priced model), ``tier`` (a long-context tier or service tier applied),
      ``data_version`` (e.g. ``"genai-prices 0.2.3"``), and ``price_id``: the price book entry's id
      (``ledgerlm.pricing.price_id``), the one reference that names all of them.

    Never negative.
    """

    total: Decimal | None
    breakdown: Mapping[str, Decimal] = field(default_factory=dict)
    currency: str = "USD"
    unpriced_reason: str | None = None
    source: CostSource | None = None
    model_ref: str | None = None
    tier: str | None = None
    data_version: str | None = None
    price_id: str | None = None

    @property
    def priced(self) -> bool:
        """True when ``total`` is known (it may be ``Decimal(0)``: free)."""
        return self.total is not None

    @classmethod
    def unpriced(cls, reason: str, *, data_version: str | None = None) -> Cost:
        """An unpriced cost: ``total=None`` with ``reason``."""
        return cls(total=None, unpriced_reason=reason, data_version=data_version)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; amounts are decimal strings (never floats)."""
        return {
            "total": None if self.total is None else format(self.total, "f"),
            "currency": self.currency,
            "breakdown": {k: format(v, "f") for k, v in self.breakdown.items()},
            "unpriced_reason": self.unpriced_reason,
            "source": self.source,
            "model_ref": self.model_ref,
            "tier": self.tier,
            "data_version": self.data_version,
            "price_id": self.price_id,
        }


@dataclass(slots=True)
class CallContext:
    """Who made a call and under which labels; set by the SDK caller or by the proxy.

    The SDK fills ``metadata``/``tags`` from the call's ``metadata`` argument; the proxy fills the rest
    after auth and tag resolution. ``key_hash`` is the SHA-256 hex digest of a virtual key, never the key.
    """

    request_id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    request_tags: list[str] = field(default_factory=list)
    key_hash: str | None = None
    key_alias: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    organization_id: str | None = None
    end_user: str | None = None
    requester_ip: str | None = None
    model_group: str | None = None
    no_log: bool = False
