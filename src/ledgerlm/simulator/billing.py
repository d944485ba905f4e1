"""What the simulator billed: every answered call, per provider, API key, UTC day and model, and the
knobs that make its admin reports differ from the ledger on purpose.

``Billing.record(provider, api_key, model, counts)`` is called by the format modules after a call is
answered; ``counts`` are reconciliation categories (``input`` uncached, ``cached_input``,
``cache_write_5m``, ``cache_write_1h``, ``output``, ``audio_input``, ``audio_output``,
``web_search``). ``api_key`` is the credential the caller sent; only a derived id
(``key_<sha256[:12]>``, like the providers' key ids) is kept.

Report knobs (``Billing.knobs``, mutable while running; all optional):

* ``untracked``: list of ``{"provider", "model", "day" (YYYY-MM-DD, default today), category: tokens}``
  billed calls the gateway never saw (-> ``untracked_traffic``);
* ``price_factor``: ``{model: factor}``: the report bills that model at ``factor`` x the catalog price
  (-> ``price_mismatch``; far from 1 -> ``provider_report_anomaly``);
* ``shift_seconds``: bucket times are shifted by this many seconds (-> ``day_boundary`` near midnight);
* ``category_moves``: ``{"cached_input": "input"}``: tokens reported under another category
  (-> ``token_category_mismatch``);
* ``prices``: ``{model: {category: USD per million}}`` for models the catalog does not price
  (the ledger then shows ``unpriced_in_ledger``);
* ``page_size``: buckets per page (default: the request's ``limit``), to exercise paging;
* ``fail_first``: the next N admin report requests answer 429 (``Retry-After: 0``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["BilledCall", "Billing", "bearer", "key_id", "openai_counts"]


def key_id(api_key: str) -> str:
    """The simulated provider-side id of an API key (``key_`` + 12 hex of its SHA-256)."""
    return "key_" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class BilledCall:
    """Billed calls of one minute: ``provider``, ``api_key_id``, UTC ``when`` (epoch seconds, the
    minute's start), ``model``, summed ``counts``, ``endpoint`` (``completions``, ``embeddings``,
    ``messages``), ``requests`` (calls)."""

    provider: str
    api_key_id: str
    when: float
    model: str
    counts: Mapping[str, int]
    endpoint: str = "completions"
    requests: int = 1

    @property
    def day(self) -> date:
        """The UTC day of ``when``."""
        return datetime.fromtimestamp(self.when, UTC).date()


@dataclass
class Billing:
    """Billed calls summed per provider, endpoint, key, model and UTC minute (bounded memory however
    long the simulator runs) and the report knobs (see module doc)."""

    sums: dict[tuple[str, str, str, str, int], dict[str, int]] = field(default_factory=dict)
    knobs: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, provider: str, api_key: str | None, model: str, counts: Mapping[str, int], endpoint: str
    ) -> None:
        """Bill one answered call now (``endpoint``: ``completions``, ``embeddings``, ``messages``)."""
        key = (provider, endpoint, key_id(api_key or ""), model, int(time.time()) // 60 * 60)
        with self._lock:
            bucket = self.sums.setdefault(key, {"__requests__": 0})
            bucket["__requests__"] += 1
            for category, tokens in counts.items():
                bucket[category] = bucket.get(category, 0) + int(tokens)

    @property
    def calls(self) -> list[BilledCall]:
        """The billed calls, one ``BilledCall`` per minute bucket (no knobs applied)."""
        with self._lock:
            items = [(k, dict(v)) for k, v in self.sums.items()]
        out = []
        for (provider, endpoint, api_key_id, model, minute), counts in items:
            requests = counts.pop("__requests__")
            out.append(BilledCall(provider, api_key_id, float(minute), model, counts, endpoint, requests))
        return out

    def snapshot(self, provider: str) -> list[BilledCall]:
        """``provider``'s calls with the knobs applied (shift, moves, untracked traffic)."""
        shift = float(self.knobs.get("shift_seconds", 0))
        moves: Mapping[str, str] = self.knobs.get("category_moves") or {}
        calls = [c for c in self.calls if c.provider == provider]
        out = [
            BilledCall(
                c.provider,
                c.api_key_id,
                c.when + shift,
                c.model,
                _moved(c.counts, moves),
                c.endpoint,
                c.requests,
            )
            for c in calls
        ]
        for extra in self.knobs.get("untracked") or []:
            if extra.get("provider", provider) != provider:
                continue
            day = date.fromisoformat(extra.get("day") or datetime.now(UTC).date().isoformat())
            when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp()
            counts = {k: int(v) for k, v in extra.items() if isinstance(v, int)}
            endpoint = "messages" if provider == "anthropic" else "completions"
            out.append(BilledCall(provider, "key_untracked", when, str(extra["model"]), counts, endpoint))
        return out

    def take_failure(self) -> bool:
        """True (and one less to go) while the ``fail_first`` knob has failures left."""
        with self._lock:
            left = int(self.knobs.get("fail_first", 0))
            if left > 0:
                self.knobs["fail_first"] = left - 1
            return left > 0

    def price_factor(self, model: str) -> Decimal:
        """The knob's factor for ``model`` (1 when none)."""
        return Decimal(str((self.knobs.get("price_factor") or {}).get(model, 1)))

    def custom_rate(self, model: str, category: str) -> Decimal | None:
        """A knob price (USD per million) for a model the catalog does not price, or ``None``."""
        rate = ((self.knobs.get("prices") or {}).get(model) or {}).get(category)
        return None if rate is None else Decimal(str(rate))


def _moved(counts: Mapping[str, int], moves: Mapping[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for category, tokens in counts.items():
        target = moves.get(category, category)
        out[target] = out.get(target, 0) + tokens
    return out


def openai_counts(usage: Mapping[str, Any]) -> dict[str, int]:
    """Reconciliation categories of an OpenAI ``usage`` object (prompt includes cached and audio)."""
    details_in = usage.get("prompt_tokens_details") or {}
    details_out = usage.get("completion_tokens_details") or {}
    cached, audio_in = int(details_in.get("cached_tokens") or 0), int(details_in.get("audio_tokens") or 0)
    audio_out = int(details_out.get("audio_tokens") or 0)
    return {
        "input": int(usage.get("prompt_tokens") or 0) - cached - audio_in,
        "cached_input": cached,
        "output": int(usage.get("completion_tokens") or 0) - audio_out,
        "audio_input": audio_in,
        "audio_output": audio_out,
    }


def bearer(headers: Mapping[str, str]) -> str | None:
    """The Bearer credential of ``headers`` (``None`` when absent)."""
    auth = headers.get("Authorization", "")
    return auth[7:].strip() if auth.startswith("Bearer ") else None
