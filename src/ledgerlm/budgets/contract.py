"""The admission contract: where budgets and rate limits plug into the proxy (issue 7). The proxy
(``ledgerlm.proxy.lifecycle``) calls, per request::

    reservation = await admission.reserve(ctx, deployment, body)   # before the upstream call; may raise
    ...                                                            #   RateLimitError / BudgetExceededError
    await admission.settle(reservation, cost)                      # on success (cost: Decimal USD or None)
    await admission.release(reservation)                           # on failure (nothing spent... or usage
                                                                   #   seen so far: settle is called instead
                                                                   #   when a failed call carries a cost)

Exactly one of ``settle``/``release`` is called per successful ``reserve``. ``NoAdmission`` admits all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from ledgerlm.providers.base import Deployment
from ledgerlm.types import CallContext

__all__ = ["Admission", "NoAdmission", "Reservation", "start_admission", "stop_admission"]


@dataclass(slots=True)
class Reservation:
    """What ``reserve`` held: the request, the worst-case amount (USD) and implementation data."""

    request_id: str
    amount: Decimal | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Admission(Protocol):
    """Budgets and rate limits. ``reserve`` raises a 429 error (``RateLimitError``) to reject."""

    async def reserve(self, ctx: CallContext, deployment: Deployment, body: dict[str, Any]) -> Reservation:
        """Hold the request's worst-case cost and its rate-limit slots."""
        ...

    async def settle(self, reservation: Reservation, cost: Decimal | None) -> None:
        """Replace the held amount by the actual cost (USD; None when unpriced)."""
        ...

    async def release(self, reservation: Reservation) -> None:
        """Give back everything held (the call failed before costing anything)."""
        ...

    def headers(self, reservation: Reservation) -> dict[str, str]:
        """Extra response headers (``x-ratelimit-*``)."""
        ...


class NoAdmission:
    """Admits everything (no budgets or limits configured)."""

    async def reserve(self, ctx: CallContext, deployment: Deployment, body: dict[str, Any]) -> Reservation:
        return Reservation(request_id=ctx.request_id)

    async def settle(self, reservation: Reservation, cost: Decimal | None) -> None:
        return None

    async def release(self, reservation: Reservation) -> None:
        return None

    def headers(self, reservation: Reservation) -> dict[str, str]:
        return {}


async def start_admission(admission: Admission) -> None:
    """Start an admission that has a ``start()`` (budgets: backend, reset loop); after the store started."""
    start = getattr(admission, "start", None)
    if start is not None:
        await start()


async def stop_admission(admission: Admission) -> None:
    """Stop an admission that has a ``stop()``; before the store stops."""
    stop = getattr(admission, "stop", None)
    if stop is not None:
        await stop()
