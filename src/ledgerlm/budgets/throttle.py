"""Throttles set by spend-alert rules (``action: throttle``): an rpm cap on one series until an admin
clears it (``POST /alerts/throttle/clear``).

A throttle names a series (``("team", "search")``, ``("key", <hash>)``, ``("end_user", ...)``,
``("tag", ...)``, ``("model", ...)``) and ``rpm``. ``check(keys)`` admits a request of those series
only while each throttled one had fewer than ``rpm`` admitted requests in the last 60 seconds, else
raises ``RateLimitError`` (429, ``retry-after``). ``ThrottledAdmission`` wraps the proxy's admission
(budgets, rate limits) and runs ``acheck`` first: a throttled request never reserves budget.

Without Redis, throttles live in the process (each proxy instance enforces its own; an admin clears them
on each). With ``shared`` (``ledgerlm.budgets.throttle_redis.RedisThrottleStore``) a throttle set by one
instance is stored in Redis and every instance enforces it, ``aclear`` on one instance clears it for all,
and the rpm cap counts the requests of every instance together. Each instance keeps a copy of the table,
refreshed every ``sync_s`` seconds (default 1 s: a throttle reaches the other instances within that), so
a request whose series are not throttled costs no Redis round trip; a throttled one costs one. When Redis
fails, the copy is kept and the cap is counted in the process (logged).
"""

from __future__ import annotations

import logging
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
from ledgerlm.budgets.throttle_redis import RedisThrottleStore
from ledgerlm.errors import RateLimitError
from ledgerlm.providers.base import Deployment
from ledgerlm.ticker import Ticker
from ledgerlm.types import CallContext

__all__ = ["Throttle", "ThrottledAdmission", "Throttles"]

log = logging.getLogger("ledgerlm.budgets")

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
        self,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        *,
        shared: RedisThrottleStore | None = None,
        sync_s: float = 1.0,
    ) -> None:
        self._clock, self._wall = clock, wall
        self._active: dict[SeriesKey, Throttle] = {}
        self._lock = threading.Lock()
        self.shared = shared
        self.sync_s = sync_s
        self._generation = 0  # bumped by every local set / clear (a refresh read before it is stale)
        self._ticker = Ticker("throttle-sync", sync_s, self.refresh, logger=log, quiet=True)

    def set(self, key: SeriesKey, rpm: int, *, rule: str, reason: str) -> bool:
        """Throttle ``key`` to ``rpm`` (here, and in Redis when shared); False when it already was (the
        first throttle stays)."""
        with self._lock:
            if key in self._active:
                return False
            throttle = Throttle(key[0], key[1], max(0, rpm), rule, reason, self._wall())
            self._active[key] = throttle
            self._generation += 1
        if self.shared is not None:
            fields = throttle.to_json()
            try:
                self.shared.put(key, {k: fields[k] for k in ("rpm", "rule", "reason", "since")})
            except Exception as exc:
                log.warning("throttle of %s %s not shared (Redis: %s); enforced here only", *key, exc)
        return True

    def clear(self, key: SeriesKey) -> bool:
        """Lift the throttle of ``key`` in this process; False when there was none (``aclear``: all)."""
        with self._lock:
            self._generation += 1
            return self._active.pop(key, None) is not None

    async def aclear(self, key: SeriesKey) -> bool:
        """Lift the throttle of ``key`` here and (shared) on every instance; False when there was none."""
        cleared = self.clear(key)
        if self.shared is not None:
            cleared = await self.shared.delete(key) or cleared
            with self._lock:
                self._generation += 1
        return cleared

    async def refresh(self) -> None:
        """Replace the local copy by the shared table (no-op without ``shared``); raises ``RedisError``."""
        if self.shared is None:
            return
        generation = self._generation
        rows = await self.shared.load()
        with self._lock:
            if generation != self._generation:
                return  # a local set / clear raced the read: the next refresh is consistent
            old = self._active
            self._active = {
                key: old.get(key)
                or Throttle(
                    key[0], key[1], int(f["rpm"]), str(f["rule"]), str(f["reason"]), float(f["since"])
                )
                for key, f in rows.items()
            }

    def active(self) -> list[dict[str, Any]]:
        """The throttles as JSON dicts."""
        with self._lock:
            return [t.to_json() for t in self._active.values()]

    async def acheck(self, keys: list[SeriesKey]) -> None:
        """``check`` with the cap counted across instances when shared (module docstring)."""
        if not self._active:
            return
        with self._lock:
            hit = [self._active[k] for k in keys if k in self._active]
        if not hit:
            return
        if self.shared is not None:
            try:
                full = await self.shared.hit(
                    [((t.dimension, t.value), t.rpm) for t in hit], int(self._wall() * 1000)
                )
            except Exception as exc:
                log.warning("shared throttle count unavailable (%s); counting in this process", exc)
            else:
                if full is not None:
                    raise _refusal(next(t for t in hit if (t.dimension, t.value) == full[0]), full[1])
                return
        self.check(keys)

    def check(self, keys: list[SeriesKey]) -> None:
        """Admit one request of ``keys`` (counted in this process) or raise ``RateLimitError`` (429)
        naming the throttle."""
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
                    raise _refusal(throttle, wait)
            for throttle in hit:
                throttle.hits.append(now)

    async def start(self) -> None:
        """Shared: connect on the running loop and refresh every ``sync_s`` (idempotent)."""
        if self.shared is not None and not self._ticker.running:
            await self.shared.start()
            self._ticker.start()

    async def stop(self) -> None:
        """Stop refreshing and close the shared store's connections."""
        await self._ticker.stop()
        if self.shared is not None:
            await self.shared.close()


def _from_row(key: SeriesKey, row: dict[str, Any]) -> Throttle:
    """A throttle read from the shared table (``{rpm, rule, reason, since}``)."""
    return Throttle(
        key[0], key[1], int(row["rpm"]), str(row["rule"]), str(row["reason"]), float(row["since"])
    )


def _refusal(throttle: Throttle, wait_s: float) -> RateLimitError:
    """The 429 of a request over ``throttle``'s cap (``wait_s``: seconds until room)."""
    wait = float(max(1, math.ceil(wait_s)))
    return RateLimitError(
        f"Rate limit exceeded for {throttle.dimension} {throttle.value}: throttled to "
        f"{throttle.rpm} rpm by spend alert rule {throttle.rule!r} until an admin clears it",
        headers={"retry-after": str(int(wait))},
        retry_after=wait,
        code="spend_alert_throttled",
    )


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
        await self.throttles.acheck(context_keys(ctx, deployment))
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
