"""The vocabulary of reconciliation: cells, lines, explained rows and the run result.

A *cell* is one ``(UTC day, model, token category, account)``; ``account`` is the provider-side
project / workspace / API key id when the config maps deployments to one, else ``""``. Both sides
(the ledger and the provider's report) are reduced to ``Line`` values (tokens and USD per cell), summed
per cell, matched and explained (``ledger.reconcile.matcher``). Money is ``Decimal`` USD throughout.

Token categories (``CATEGORIES``): ``input`` (uncached, non-audio input), ``cached_input``
(cache reads), ``cache_write_5m``, ``cache_write_1h``, ``output`` (INCLUDING reasoning: every provider
bills reasoning as output and no provider report splits it), ``reasoning`` (only when a report splits
it), ``audio_input``, ``audio_output``, ``image_input``, ``image_output``, ``web_search`` (count of
searches), ``request`` (per-request fees), ``batch`` (batch API usage, all tokens), ``total`` (a report
that only gives a cost per day and model, e.g. OpenRouter activity: the ledger is summed likewise),
``other`` (a cost line whose category could not be read; flagged, never dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import orjson

__all__ = [
    "CATEGORIES",
    "EXPLANATIONS",
    "Cell",
    "DiffRow",
    "Explanation",
    "Line",
    "ReconcileResult",
    "Side",
    "dumps",
]

CATEGORIES: tuple[str, ...] = (
    "input",
    "cached_input",
    "cache_write_5m",
    "cache_write_1h",
    "output",
    "reasoning",
    "audio_input",
    "audio_output",
    "image_input",
    "image_output",
    "web_search",
    "request",
    "batch",
    "total",
    "other",
)

Explanation = Literal[
    "matched",
    "untracked_traffic",
    "unpriced_in_ledger",
    "price_mismatch",
    "token_category_mismatch",
    "day_boundary",
    "provider_report_anomaly",
]
EXPLANATIONS: tuple[str, ...] = (
    "matched",
    "untracked_traffic",
    "unpriced_in_ledger",
    "price_mismatch",
    "token_category_mismatch",
    "day_boundary",
    "provider_report_anomaly",
)


@dataclass(frozen=True, slots=True, order=True)
class Cell:
    """One reconciliation cell: UTC ``day``, normalised ``model``, ``category``, ``account``."""

    day: date
    model: str
    category: str
    account: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    """One contribution to a cell: ``tokens`` (or searches / requests), ``usd`` (``None``: the side has
    no amount for it, e.g. a usage report line, or an unpriced ledger call), ``unpriced`` (ledger calls
    without a price), ``flags`` (e.g. ``unknown_usage_field:<name>``)."""

    cell: Cell
    tokens: int | None = 0
    usd: Decimal | None = Decimal(0)
    unpriced: int = 0
    flags: tuple[str, ...] = ()


@dataclass(slots=True)
class Side:
    """One side of a cell, summed: ``tokens`` (``None`` when the side never reported tokens for it),
    ``usd`` (``Decimal``), ``unpriced`` calls, ``seen`` (any line at all), ``flags``."""

    tokens: int | None = None
    usd: Decimal = Decimal(0)
    has_usd: bool = False
    unpriced: int = 0
    seen: bool = False
    flags: set[str] = field(default_factory=set)

    def add(self, line: Line) -> None:
        """Add ``line``'s tokens, USD, unpriced count and flags."""
        self.seen = True
        if line.tokens is not None:
            self.tokens = (self.tokens or 0) + line.tokens
        if line.usd is not None:
            self.usd += line.usd
            self.has_usd = True
        self.unpriced += line.unpriced
        self.flags.update(line.flags)

    @property
    def token_count(self) -> int:
        """Tokens, 0 when never reported."""
        return self.tokens or 0


@dataclass(slots=True)
class DiffRow:
    """One explained cell. ``delta_usd`` is ``ledger_usd - provider_usd``; ``detail`` carries the
    explanation's evidence (rates per million tokens for ``price_mismatch`` / ``provider_report_anomaly``:
    ``ledger_rate``, ``provider_rate``, ``catalog_rate``; the paired cell for ``day_boundary`` and
    ``token_category_mismatch``)."""

    cell: Cell
    ledger: Side
    provider: Side
    explanation: Explanation = "matched"
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def delta_usd(self) -> Decimal:
        """Ledger minus provider (USD)."""
        return self.ledger.usd - self.provider.usd

    @property
    def delta_tokens(self) -> int:
        """Ledger minus provider (tokens)."""
        return self.ledger.token_count - self.provider.token_count

    def to_json(self) -> dict[str, Any]:
        """The row object of ``--json`` and ``GET /reconcile/runs/{id}`` (money as ``Decimal``)."""
        out: dict[str, Any] = {
            "date": self.cell.day.isoformat(),
            "model": self.cell.model,
            "category": self.cell.category,
            "ledger_tokens": self.ledger.tokens,
            "provider_tokens": self.provider.tokens,
            "ledger_usd": self.ledger.usd,
            "provider_usd": self.provider.usd,
            "delta_usd": self.delta_usd,
            "explanation": self.explanation,
        }
        if self.cell.account:
            out["account"] = self.cell.account
        if self.ledger.unpriced:
            out["ledger_unpriced_calls"] = self.ledger.unpriced
        flags = sorted(self.ledger.flags | self.provider.flags)
        if flags:
            out["flags"] = flags
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(slots=True)
class ReconcileResult:
    """A whole run: ``provider``, inclusive UTC days ``start``..``end``, totals (USD), ``rows``.

    ``capture_rate`` = ``ledger_usd / provider_usd`` (``None`` when the provider billed nothing);
    ``within_tolerance``: ``|1 - capture_rate| <= tolerance`` (both totals 0 counts as within).
    """

    provider: str
    start: date
    end: date
    rows: list[DiffRow]
    tolerance: Decimal = Decimal("0.01")

    @property
    def ledger_usd(self) -> Decimal:
        """Sum of the ledger's priced spend in the window (USD)."""
        return sum((row.ledger.usd for row in self.rows), Decimal(0))

    @property
    def provider_usd(self) -> Decimal:
        """Sum of the provider's billed amounts in the window (USD)."""
        return sum((row.provider.usd for row in self.rows), Decimal(0))

    @property
    def capture_rate(self) -> Decimal | None:
        """``ledger_usd / provider_usd`` (exact ``Decimal`` division), ``None`` when nothing was billed."""
        provider = self.provider_usd
        return None if provider == 0 else self.ledger_usd / provider

    @property
    def within_tolerance(self) -> bool:
        """True when the total difference is within ``tolerance`` (a fraction of the provider's bill)."""
        rate = self.capture_rate
        if rate is None:
            return self.ledger_usd == 0
        return abs(Decimal(1) - rate) <= self.tolerance

    @property
    def status(self) -> str:
        """``"ok"`` within tolerance, else ``"drift"``."""
        return "ok" if self.within_tolerance else "drift"

    def counts(self) -> dict[str, int]:
        """Rows per explanation."""
        out = dict.fromkeys(EXPLANATIONS, 0)
        for row in self.rows:
            out[row.explanation] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object (money as ``Decimal``: ``dumps`` writes exact JSON numbers)."""
        return {
            "provider": self.provider,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "ledger_usd": self.ledger_usd,
            "provider_usd": self.provider_usd,
            "capture_rate": self.capture_rate,
            "tolerance": self.tolerance,
            "status": self.status,
            "explanations": self.counts(),
            "rows": [row.to_json() for row in self.rows],
        }


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        text = format(value, "f")
        return orjson.Fragment(text if text not in ("-0", "") else "0")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(value: Any, *, indent: bool = True) -> bytes:
    """JSON bytes; ``Decimal`` as a JSON NUMBER with its exact digits (never a float)."""
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(value, default=_default, option=option)
