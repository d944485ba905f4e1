"""Throttles in Redis, shared by every proxy instance (``ledgerlm.budgets.throttle.Throttles(shared=...)``).

Key layout under ``prefix`` (the budgets' ``redis_prefix``)::

    <prefix>:sa:thr                         hash  <dim>\\x1f<value> -> JSON {rpm, rule, reason, since}
    <prefix>:sa:hits:<dim>\\x1f<value>       zset  admitted requests of the last 60 s (score: ms)

``put`` (``HSETNX``: the first throttle stays) is synchronous: the detector that sets a throttle runs on
a callback thread. ``load``, ``delete`` and ``hit`` are async (the proxy's event loop; the client is
made by ``start`` on that loop). ``hit`` is one Lua script: every throttled series of a request must
have fewer than its ``rpm`` admitted requests in the sliding minute, then the request is counted in all
of them (atomic across instances, so N instances together admit ``rpm`` a minute, not N x ``rpm``).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import redis
from redis.asyncio import Redis as AsyncRedis

from ledgerlm.budgets.baseline import SeriesKey
from ledgerlm.budgets.baseline_redis import SEP, series_id

__all__ = ["RedisThrottleStore"]

WINDOW_MS = 60_000

HIT = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
for i, k in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - window)
  if redis.call('ZCARD', k) >= tonumber(ARGV[3 + i]) then
    local oldest = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
    local wait = window
    if oldest[2] then wait = tonumber(oldest[2]) + window - now end
    return {i, wait}
  end
end
for _, k in ipairs(KEYS) do
  redis.call('ZADD', k, now, ARGV[3])
  redis.call('PEXPIRE', k, window)
end
return {0, 0}
"""


class RedisThrottleStore:
    """The shared throttles (module docstring). Raises ``redis.exceptions.RedisError`` on failures."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self._sync = redis.Redis.from_url(url)
        self._async: AsyncRedis | None = None
        self._hit: Any = None

    @property
    def _table(self) -> str:
        return f"{self.prefix}:sa:thr"

    def _hits(self, key: SeriesKey) -> str:
        return f"{self.prefix}:sa:hits:{series_id(key)}"

    async def start(self) -> None:
        """Make the async client on the running loop (idempotent)."""
        if self._async is None:
            self._async = AsyncRedis.from_url(self.url)
            self._hit = self._async.register_script(HIT)

    def _client(self) -> AsyncRedis:
        if self._async is None:
            raise RuntimeError("RedisThrottleStore.start() was not awaited")
        return self._async

    def put(self, key: SeriesKey, fields: dict[str, Any]) -> bool:
        """Store a throttle unless one exists; True when stored."""
        return bool(self._sync.hsetnx(self._table, series_id(key), orjson.dumps(fields)))

    async def load(self) -> dict[SeriesKey, dict[str, Any]]:
        """Every throttle: ``{(dimension, value): {rpm, rule, reason, since}}``."""
        raw = await self._client().hgetall(self._table)
        out: dict[SeriesKey, dict[str, Any]] = {}
        for field, value in raw.items():
            dim, _, val = (field.decode() if isinstance(field, bytes) else str(field)).partition(SEP)
            out[(dim, val)] = orjson.loads(value)
        return out

    async def delete(self, key: SeriesKey) -> bool:
        """Lift a throttle (and forget its counted requests); True when there was one."""
        client = self._client()
        removed = await client.hdel(self._table, series_id(key))
        await client.delete(self._hits(key))
        return bool(removed)

    async def hit(self, limits: list[tuple[SeriesKey, int]], now_ms: int) -> tuple[SeriesKey, float] | None:
        """Count one request in every ``(series, rpm)``; ``None`` when admitted, else the first full
        series and the seconds until it has room (nothing counted then)."""
        self._client()
        keys = [self._hits(key) for key, _ in limits]
        args = [now_ms, WINDOW_MS, uuid.uuid4().hex, *(rpm for _, rpm in limits)]
        index, wait_ms = await self._hit(keys=keys, args=args)
        if not int(index):
            return None
        return limits[int(index) - 1][0], max(0.0, int(wait_ms) / 1000)

    async def close(self) -> None:
        """Close both clients."""
        if self._async is not None:
            await self._async.aclose()
            self._async = None
        self._sync.close()
