"""``RedisLoginLimiter``: the ``/login`` attempt limit (``login_limit``) shared by every proxy instance.

Each count is a sorted set of failure times (milliseconds of the Redis server's ``TIME``, so instances
with different clocks agree), one short Lua script per step:

* ``check``: drop the failures older than the window, then the wait (ms) until the attempt is allowed:
  0 when both counts are under their limits (``_CHECK``);
* ``failed``: the same drop, add this failure, keep only the newest ``limit`` failures (enough to decide,
  bounded memory), ``PEXPIRE`` the window so an idle count vanishes (``_FAILED``);
* ``succeeded``: ``DEL`` the username's count from that IP.

Keys (one hash tag with the proxy's other keys, so one cluster slot):
``<prefix>:login:user:<sha256(ip, username)[:32]>`` (the username is not stored: it may be a mistyped
password) and ``<prefix>:login:ip:<ip>``.

Every call has a deadline (``io_timeout_s``, 1 s). When Redis fails or is late, that attempt uses the
in-process ``fallback`` (``LoginLimiter``) instead, so an outage neither locks everyone out nor answers
500; a warning is logged when Redis stops answering and an info line when it answers again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ledgerlm.proxy.ui.login_limit import MAX_FAILURES, MAX_IP_FAILURES, WINDOW_S, LoginLimiter, refused

__all__ = ["IO_TIMEOUT_S", "RedisLoginLimiter"]

log = logging.getLogger("ledgerlm.proxy")

IO_TIMEOUT_S = 1.0
_NOW = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
"""
_CHECK = (
    _NOW
    + """
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local most = tonumber(ARGV[i + 1])
  local count = redis.call('ZCARD', key)
  if count >= most then
    local oldest = redis.call('ZRANGE', key, count - most, count - most, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
return wait
"""
)
_FAILED = (
    _NOW
    + """
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('ZREMRANGEBYRANK', key, 0, -(tonumber(ARGV[i + 1]) + 1))
  redis.call('PEXPIRE', key, window)
end
return 1
"""
)


class RedisLoginLimiter:
    """``LoginLimits`` on Redis (module docstring). ``client``: a ``redis.asyncio.Redis`` this limiter
    owns (``aclose`` closes it); ``prefix`` namespaces the keys (tests use a unique one)."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str,
        max_failures: int = MAX_FAILURES,
        max_ip_failures: int = MAX_IP_FAILURES,
        window_s: float = WINDOW_S,
        io_timeout_s: float = IO_TIMEOUT_S,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.io_timeout_s = io_timeout_s
        self._limits = (str(int(window_s * 1000)), str(max_failures), str(max_ip_failures))
        self.fallback = LoginLimiter(max_failures, max_ip_failures, window_s)
        self.redis_down = False
        self._check = client.register_script(_CHECK)
        self._failed = client.register_script(_FAILED)

    @classmethod
    def from_url(cls, url: str, *, prefix: str, **limits: Any) -> RedisLoginLimiter:
        """A limiter with its own client for ``url`` (no I/O until the first call)."""
        timeout = float(limits.get("io_timeout_s", IO_TIMEOUT_S))
        client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, prefix=prefix, **limits)

    def keys(self, username: str, ip: str) -> list[str]:
        """The two counts of an attempt: the username from that IP, and the IP."""
        pair = hashlib.sha256(f"{ip}\x1f{username.lower()}".encode()).hexdigest()[:32]
        return [f"{self.prefix}:login:user:{pair}", f"{self.prefix}:login:ip:{ip}"]

    async def check(self, username: str, ip: str) -> None:
        wait_ms = await self._redis(lambda: self._check(keys=self.keys(username, ip), args=self._limits))
        if wait_ms is None:
            await self.fallback.check(username, ip)
        elif int(wait_ms) > 0:
            raise refused(int(wait_ms) / 1000)

    async def failed(self, username: str, ip: str) -> None:
        args = [*self._limits, uuid.uuid4().hex]  # a unique member: two failures in one ms both count
        if await self._redis(lambda: self._failed(keys=self.keys(username, ip), args=args)) is None:
            await self.fallback.failed(username, ip)

    async def succeeded(self, username: str, ip: str) -> None:
        await self.fallback.succeeded(username, ip)
        await self._redis(lambda: self.client.delete(self.keys(username, ip)[0]))

    async def _redis(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """``call()``'s result within the deadline; ``None`` when Redis failed or was late (logged)."""
        try:
            async with asyncio.timeout(self.io_timeout_s):
                result = await call()
        except (RedisError, OSError, TimeoutError) as exc:
            if not self.redis_down:
                log.warning(
                    "login attempt limit: Redis unavailable (%s); counting failed log-ins in this "
                    "process until it answers again",
                    type(exc).__name__,
                )
            self.redis_down = True
            return None
        if self.redis_down:
            log.info("login attempt limit: Redis answers again; counts shared again")
            self.redis_down = False
        return result

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()
