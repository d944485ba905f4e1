"""The rolling hourly baselines in Redis, shared by every proxy instance (``general_settings.redis_url``).

Same contract as ``ledgerlm.budgets.baseline.HourlyBaseline.observe``: count one call in each series and
return each series' ``SeriesStats`` (one atomic Lua script, one round trip). Key layout under ``prefix``
(the budgets' ``redis_prefix``, a hash tag so every key shares one cluster slot)::

    <prefix>:sa:b:<dim>\\x1f<value>:<hour>   hash {s: spend nano-USD, r: requests, t: tokens, e: errors}
    <prefix>:sa:f:<dim>\\x1f<value>          the series' first hour (epoch seconds // 3600)
    <prefix>:sa:idx                          zset series -> last seen (ms): the cardinality bound
    <prefix>:sa:ev                           series evicted so far

Every key expires ``window_hours + 2`` hours after the series' last call. Past ``max_series`` series the
least recently seen are dropped (their keys deleted, counted in ``sa:ev``), as in the process. Spend is
counted in integer nano-USD (``ledgerlm.budgets.money``, rounded up; exact up to about 9e6 USD per
window). When Redis fails, the call is counted in a per-process ``HourlyBaseline`` instead (logged once a
minute) so the detector keeps judging.

``RedisMarks`` is the detector's shared de-duplication: ``SET <prefix>:mark:<key> NX PX ttl`` (the budget
backend's ``mark_once`` layout), synchronous because the detector runs on a callback thread.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any

import redis
from redis.exceptions import RedisError

from ledgerlm.budgets.baseline import Bucket, HourlyBaseline, SeriesKey, SeriesStats
from ledgerlm.budgets.money import NANO_PER_USD, to_nano

__all__ = ["RedisBaseline", "RedisMarks", "series_id"]

log = logging.getLogger("ledgerlm.budgets")

SEP = "\x1f"
_WARN_EVERY_S = 60.0

OBSERVE = """
local p, hour, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ttl, maxs, now = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local idx = p .. ':sa:idx'
local out = {}
for i = 10, #ARGV do
  local s = ARGV[i]
  local base = p .. ':sa:b:' .. s .. ':'
  local b = base .. hour
  redis.call('HINCRBY', b, 'r', 1)
  redis.call('HINCRBY', b, 't', ARGV[8])
  redis.call('HINCRBY', b, 'e', ARGV[9])
  redis.call('HINCRBY', b, 's', ARGV[7])
  redis.call('EXPIRE', b, ttl)
  local f = p .. ':sa:f:' .. s
  redis.call('SET', f, hour, 'NX')
  redis.call('EXPIRE', f, ttl)
  redis.call('ZADD', idx, now, s)
  local first = tonumber(redis.call('GET', f))
  local row = {first}
  for _, v in ipairs(redis.call('HMGET', b, 's', 'r', 't', 'e')) do row[#row + 1] = tonumber(v) or 0 end
  local sums = {0, 0, 0, 0}
  for h = math.max(first, hour - window), hour - 1 do
    local v = redis.call('HMGET', base .. h, 's', 'r', 't', 'e')
    for j = 1, 4 do sums[j] = sums[j] + (tonumber(v[j]) or 0) end
  end
  for j = 1, 4 do row[#row + 1] = sums[j] end
  out[#out + 1] = row
end
redis.call('EXPIRE', idx, ttl)
local n = redis.call('ZCARD', idx)
if n > maxs then
  local gone = redis.call('ZPOPMIN', idx, n - maxs)
  for j = 1, #gone, 2 do
    redis.call('DEL', p .. ':sa:f:' .. gone[j])
    for h = hour - window, hour do redis.call('DEL', p .. ':sa:b:' .. gone[j] .. ':' .. h) end
  end
  redis.call('INCRBY', p .. ':sa:ev', #gone / 2)
end
return out
"""


def series_id(key: SeriesKey) -> str:
    """``(dimension, value)`` -> the Redis member ``dimension\\x1fvalue``."""
    return f"{key[0]}{SEP}{key[1]}"


def _stats(row: list[Any], hour: int, window_hours: int) -> SeriesStats:
    first, cs, cr, ct, ce, ws, wr, wt, we = (int(v) for v in row)
    start = max(first, hour - window_hours)
    nano = Decimal(NANO_PER_USD)
    current = Bucket(hour, Decimal(cs) / nano, cr, ct, ce)
    return SeriesStats(current, Bucket(start, Decimal(ws) / nano, wr, wt, we), max(0, hour - start))


class RedisBaseline:
    """Hourly baselines in Redis (module docstring). ``client``: a synchronous ``redis.Redis``."""

    def __init__(
        self, client: redis.Redis, prefix: str, window_hours: int = 24, max_series: int = 10_000
    ) -> None:
        if window_hours < 1 or max_series < 1:
            raise ValueError("window_hours and max_series must be >= 1")
        self.window_hours = window_hours
        self.max_series = max_series
        self.prefix = prefix
        self.fallback = HourlyBaseline(window_hours, max_series)
        self._r = client
        self._script = client.register_script(OBSERVE)
        self._warned = 0.0

    def observe(
        self, keys: list[SeriesKey], hour: int, *, spend: Decimal | None, tokens: int, failed: bool
    ) -> dict[SeriesKey, SeriesStats]:
        """See ``HourlyBaseline.observe``; falls back to the process on a Redis error."""
        if not keys:
            return {}
        ttl = (self.window_hours + 2) * 3600
        head: list[str | int] = [
            self.prefix,
            hour,
            self.window_hours,
            ttl,
            self.max_series,
            int(time.time() * 1000),
        ]
        args = [*head, to_nano(spend or 0), tokens, int(failed), *(series_id(k) for k in keys)]
        try:
            rows = self._script(keys=[], args=args)
        except RedisError as exc:
            self._warn(exc)
            return self.fallback.observe(keys, hour, spend=spend, tokens=tokens, failed=failed)
        return {key: _stats(row, hour, self.window_hours) for key, row in zip(keys, rows, strict=True)}

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned >= _WARN_EVERY_S:
            self._warned = now
            log.warning("spend alert baselines: Redis unavailable (%s); counting in this process", exc)

    @property
    def evicted(self) -> int:
        """Series dropped by the cardinality bound (every instance)."""
        return int(self._r.get(f"{self.prefix}:sa:ev") or 0)

    def __len__(self) -> int:
        return int(self._r.zcard(f"{self.prefix}:sa:idx"))

    def close(self) -> None:
        """Close the client's connections (shared with ``RedisMarks``)."""
        self._r.close()


class RedisMarks:
    """``mark(key, ttl_s) -> bool``: True the first time across every instance (module docstring)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._r = client
        self.prefix = prefix

    def __call__(self, key: str, ttl_s: float) -> bool:
        """Raises ``RedisError`` when Redis is unreachable (the caller decides)."""
        ttl_ms = max(1, int(ttl_s * 1000))
        return bool(self._r.set(f"{self.prefix}:mark:{key}", "1", nx=True, px=ttl_ms))
