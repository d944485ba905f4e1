"""Throttles set by spend-alert rules (``action: throttle``): an rpm cap on one series until an admin
clears it (``POST /alerts/throttle/clear``).

A throttle names a series (``("team", "search")``, ``("key", <hash>)``, ``("end_user", ...)``,
``("tag", ...)``, ``("model", ...)``) and ``rpm``. ``check(keys)`` admits a request of those series
only while each throttled one had fewer than ``rpm`` admitted requests in the last 60 seconds, else
raises ``RateLimitError`` (429, ``retry-after``). ``ThrottledAdmission`` wraps the proxy's admission
(budgets, rate limits) and runs ``check`` first: a throttled request never reserves budget.

Throttles live in the process (each proxy instance enforces its own; an admin clears them on each).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerlm.budgets.baseline import SeriesKey, series_keys
from ledgerlm.budgets.contract import Admission, Reservation
from ledgerlm.errors import RateLimitError
from ledgerlm.providers.base import Deployment
from ledgerlm.types import CallContext

__all__ = ["Throttle", "ThrottledAdmission", "Throttles"]

_WINDOW_S = 60.0


@dataclass(slots=True)
class Throttle:
    """One active throttle: ``rpm`` requests per minute for the series ``(dimension, value)``."""

    dimension: str
    value: str
    rpm: int
    rule: str
    reason: str
    since: float
    hits: deque[float] = field(default_factory=deque)

    def to_json(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "value": self.value,
            "rpm": self.rpm,
            "rule": self.rule,
            "reason": self.reason,
            "since": self.since,
        }


class Throttles:
    """The active throttles (thread-safe). ``clock``: monotonic seconds (tests pass their own)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
    ) -> None:
        self._clock, self._wall = clock, wall
        self._active: dict[SeriesKey, Throttle] = {}
        self._lock = threading.Lock()

    def set(self, key: SeriesKey, rpm: int, *, rule: str, reason: str) -> bool:
        """Throttle ``key`` to ``rpm``; False when it already was (the first throttle stays)."""
        with self._lock:
            if key in self._active:
                return False
            self._active[key] = Throttle(key[0], key[1], max(0, rpm), rule, reason, self._wall())
            return True

    def clear(self, key: SeriesKey) -> bool:
        """Lift the throttle of ``key``; False when there was none."""
        with self._lock:
            return self._active.pop(key, None) is not None

    def active(self) -> list[dict[str, Any]]:
        """The throttles as JSON dicts."""
        with self._lock:
            return [t.to_json() for t in self._active.values()]

    def check(self, keys: list[SeriesKey]) -> None:
        """Admit one request of ``keys`` or raise ``RateLimitError`` (429) naming the throttle."""
        if not self._active:
            return
        now = self._clock()
        with self._lock:
            hit = [self._active[k] for k in keys if k in self._active]
            for throttle in hit:
                while throttle.hits and now - throttle.hits[0] >= _WINDOW_S:
                    throttle.hits.popleft()
                if len(throttle.hits) >= throttle.rpm:
                    wait = _WINDOW_S - (now - throttle.hits[0]) if throttle.hits else _WINDOW_S
                    raise RateLimitError(
                        f"Rate limit exceeded for {throttle.dimension} {throttle.value}: throttled to "
                        f"{throttle.rpm} rpm by spend alert rule {throttle.rule!r} until an admin clears it",
                        headers={"retry-after": str(max(1, math.ceil(wait)))},
                        retry_after=float(max(1, math.ceil(wait))),
                        code="spend_alert_throttled",
                    )
            for throttle in hit:
                throttle.hits.append(now)


def context_keys(ctx: CallContext, deployment: Deployment | None) -> list[SeriesKey]:
    """The series of a request about to be admitted."""
    model = ctx.model_group or (deployment.model_group if deployment is not None else None)
    return series_keys(
        key=ctx.key_hash, team=ctx.team_id, end_user=ctx.end_user, tags=ctx.request_tags, model=model
    )


class ThrottledAdmission:
    """``Admission`` that checks the throttles, then delegates to ``inner`` (module docstring)."""

    def __init__(self, inner: Admission, throttles: Throttles) -> None:
        self.inner = inner
        self.throttles = throttles

    async def reserve(self, ctx: CallContext, deployment: Deployment, body: dict[str, Any]) -> Reservation:
        self.throttles.check(context_keys(ctx, deployment))
        return await self.inner.reserve(ctx, deployment, body)

    async def settle(self, reservation: Reservation, cost: Decimal | None) -> None:
        await self.inner.settle(reservation, cost)

    async def release(self, reservation: Reservation) -> None:
        await self.inner.release(reservation)

    def headers(self, reservation: Reservation) -> dict[str, str]:
        return self.inner.headers(reservation)

    def __getattr__(self, name: str) -> Any:
        """``start``/``stop``/``invalidate``... of the wrapped admission."""
        return getattr(self.inner, name)
