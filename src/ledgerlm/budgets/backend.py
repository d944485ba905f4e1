"""The counter backend interface shared by the in-process and the Redis implementations.

A backend keeps, per entity: settled spend in the current period and open reservations (nano-USD), the
number of requests in flight, and requests / tokens in the current one-minute window. Every method is
atomic with respect to every other call on the same backend (and, for Redis, on every instance sharing
the prefix). Spend counters are loaded lazily from the database (``SpendLoader``) the first time an
entity is seen, and again after they disappear (a Redis restart or flush).
"""

from __future__ import annotations

from typing import Protocol

from ledgerlm.budgets.types import AdmitPlan, AdmitResult, EntityRef

__all__ = ["WINDOW_S", "BudgetBackend", "window_of"]

WINDOW_S = 60
"""Rate-limit window length in seconds (fixed one-minute windows aligned to the epoch)."""


def window_of(now_s: float) -> tuple[int, float]:
    """``(window number, seconds until the window ends)`` for a UNIX time in seconds."""
    number = int(now_s // WINDOW_S)
    return number, (number + 1) * WINDOW_S - now_s


class BudgetBackend(Protocol):
    """Atomic counters for budgets and rate limits. Amounts are integer nano-USD."""

    async def start(self) -> None:
        """Prepare (Redis: detect a fresh or restarted server via the marker key and drop stale counters)."""

    async def admit(self, plan: AdmitPlan, now_s: float) -> AdmitResult:
        """Check every budget and rate check of ``plan``; when all pass, apply all (reserve the amount on
        each budget, count the request, hold a parallel slot) and record the reservation; else change
        nothing and return the first failure."""

    async def settle(self, reservation_id: str, actual_nano: int, tokens: int, now_s: float) -> bool:
        """Turn the reservation into ``actual_nano`` of settled spend on its entities and count ``tokens``
        in the current window; free its parallel slots. False when the reservation was already settled or
        released (then nothing changes); a reservation reclaimed after its lease still adds its spend."""

    async def release(self, reservation_id: str) -> bool:
        """Drop the reservation without spend (the call failed before any usage). False if not open."""

    async def spend(self, ref: EntityRef) -> tuple[int, int]:
        """``(settled spend, open reservations)`` of ``ref`` in nano-USD (0, 0 when not loaded)."""

    async def reset_spend(self, ref: EntityRef, spend_nano: int = 0) -> None:
        """Set the settled spend of ``ref`` (a budget reset: 0); open reservations are kept."""

    async def mark_once(self, key: str, ttl_s: float) -> bool:
        """True the first time ``key`` is marked within ``ttl_s`` seconds (alert de-duplication)."""

    async def close(self) -> None:
        """Release connections."""
