"""Allocation that adds up: per dimension, every call's cost attributed exactly once.

A call carrying one value of dimension ``D`` puts its whole cost on that value; several values split it
evenly, or by the dimension policy's declared ``weights``; none puts it on ``unallocated``. Shares are
computed at the storage precision (1e-10 USD): each share is rounded down and the leftover quanta go to
the largest remainders (ties: value name, ascending), so the shares of a call sum to its cost EXACTLY and
a dimension report sums to the global total. ``with_cents`` adds ``spend_cents`` (2 decimals) the same way
(largest remainder), so the rounded rows also add up to the rounded total.

Unpriced calls (spend ``None``) count in ``api_requests``/``unpriced_requests`` and add nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from ledgerlm.tags.dimensions import UNALLOCATED, values_of

__all__ = ["QUANTUM", "CallTags", "allocate", "split", "with_cents"]

QUANTUM = Decimal("1e-10")  # the storage precision of money (store.coltypes.MONEY_SCALE)
CENT = Decimal("0.01")
Weight = Callable[[str], Decimal]


@dataclass(frozen=True, slots=True)
class CallTags:
    """What allocation and drift read of one spend row, or of ``calls`` rows sharing the same tags, team
    and record: ``spend`` (USD summed, ``None`` = all unpriced), the stored ``tags``, ``team_id``, the
    tag policy ``record`` (``ledgerlm.tags.enforce``) and how many of the calls were ``unpriced``."""

    spend: Decimal | None
    tags: Sequence[str]
    team_id: str | None = None
    record: Mapping[str, Any] = field(default_factory=dict)
    calls: int = 1
    unpriced: int = -1  # -1: derived from spend (1 when spend is None, else 0)

    @property
    def unpriced_calls(self) -> int:
        """How many of the calls were unpriced."""
        if self.unpriced >= 0:
            return self.unpriced
        return self.calls if self.spend is None else 0


def _spread(total: Decimal, raw: Mapping[str, Decimal], quantum: Decimal) -> dict[str, Decimal]:
    """``raw`` rounded down to ``quantum``, the leftover quanta to the largest remainders (then name)."""
    shares = {v: r.quantize(quantum, rounding=ROUND_DOWN) for v, r in raw.items()}
    left = total - sum(shares.values(), Decimal(0))
    order = sorted(raw, key=lambda v: (-(raw[v] - shares[v]), v))
    index = 0
    while left >= quantum and order:
        shares[order[index % len(order)]] += quantum
        left -= quantum
        index += 1
    if left > 0 and order:  # a total finer than the quantum: the sub-quantum rest goes to the first
        shares[order[0]] += left
    return shares


def split(cost: Decimal, values: Sequence[str], weight: Weight | None = None) -> dict[str, Decimal]:
    """``cost`` split among ``values`` (evenly, or by ``weight(value)``); shares sum to ``cost`` exactly.

    >>> split(Decimal("1"), ["a", "b", "c"])["a"]
    Decimal('0.3333333334')
    """
    if not values:
        return {}
    weights = {v: (weight(v) if weight else Decimal(1)) for v in values}
    total_weight = sum(weights.values(), Decimal(0))
    raw = {v: cost * w / total_weight for v, w in weights.items()}
    return _spread(cost, raw, QUANTUM)


def _blank() -> dict[str, Any]:
    return {"spend": Decimal(0), "api_requests": 0, "unpriced_requests": 0}


def allocate(calls: Iterable[CallTags], dimension: str, weight: Weight | None = None) -> list[dict[str, Any]]:
    """Rows ``{"group": value | "unallocated", "spend": Decimal USD, "api_requests", "unpriced_requests"}``
    for ``dimension``, highest spend first; their spends sum to the calls' total exactly."""
    rows: dict[str, dict[str, Any]] = {}
    for call in calls:
        values = values_of(call.tags, dimension) or [UNALLOCATED]
        shares = split(call.spend, values, weight) if call.spend is not None else {}
        for value in values:
            row = rows.setdefault(value, _blank())
            row["api_requests"] += call.calls
            row["unpriced_requests"] += call.unpriced_calls
            row["spend"] += shares.get(value, Decimal(0))
    out = [{"group": group, **row} for group, row in rows.items()]
    out.sort(key=lambda row: (-row["spend"], row["group"]))
    return out


def with_cents(rows: list[dict[str, Any]], total: Decimal) -> Decimal:
    """Add ``spend_cents`` (2 decimals) to each row so that they sum to ``total`` rounded half-up to the
    cent (largest remainder); returns that rounded total."""
    rounded_total = total.quantize(CENT, rounding=ROUND_HALF_UP)
    raw = {str(i): Decimal(row["spend"]) for i, row in enumerate(rows)}
    shares = _spread(rounded_total, raw, CENT)
    for i, row in enumerate(rows):
        row["spend_cents"] = shares[str(i)].quantize(CENT)
    return rounded_total
