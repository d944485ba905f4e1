"""Key-cache invalidation across proxy instances, over Redis pub/sub (when ``redis_url`` is set).

Every instance keeps virtual keys in an in-process ``KeyCache`` (``key_cache_ttl_s``). A key update or
delete invalidates the local cache at once; ``KeyEvents.publish(token)`` tells the other instances
sharing the same database, which drop that key (``"*"``: every key, after a team change) as soon as the
message arrives. Without Redis, or while it is unreachable, other instances see the change within the
cache TTL (the bound documented in docs/proxy.md).

Channel: ``ledgerlm:keys:<sha256(database URL)[:16]>``, so only instances of one ledger listen together.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

from ledgerlm.proxy.auth import KeyCache

__all__ = ["ALL_KEYS", "KeyEvents", "channel_for"]

log = logging.getLogger("ledgerlm.proxy")

ALL_KEYS = "*"
RETRY_S = 1.0


def channel_for(database_url: str) -> str:
    """The pub/sub channel of the instances sharing ``database_url``."""
    return "ledgerlm:keys:" + hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:16]


class KeyEvents:
    """Publishes and applies key invalidations. ``start()``/``stop()`` with the app; never raises for
    Redis failures (the cache TTL still bounds staleness)."""

    def __init__(self, redis_url: str | None, database_url: str, cache: KeyCache) -> None:
        self.redis_url = redis_url
        self.channel = channel_for(database_url)
        self.cache = cache
        self.received = 0
        self._redis: Any = None
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self.redis_url is not None

    async def start(self) -> None:
        """Connect and subscribe in the background."""
        if self.redis_url is None:
            return
        import redis.asyncio as redis_asyncio

        self._redis = redis_asyncio.from_url(self.redis_url)
        self._task = asyncio.create_task(self._listen(), name="ledgerlm-key-events")

    async def wait_subscribed(self, timeout_s: float = 5.0) -> bool:
        """True once the subscription is active (tests, start-up checks)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._subscribed.wait()
        except TimeoutError:
            return False
        return True

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._apply(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._subscribed.clear()
                log.warning("key invalidation channel unavailable (%s); retrying", type(exc).__name__)
                await asyncio.sleep(RETRY_S)

    def _apply(self, data: Any) -> None:
        token = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        self.received += 1
        if token == ALL_KEYS:
            self.cache.invalidate_all()
        else:
            self.cache.invalidate(token)

    async def publish(self, token: str) -> None:
        """Tell the other instances to drop ``token`` (a key hash) or every key (``ALL_KEYS``)."""
        if self._redis is None:
            return
        try:
            async with asyncio.timeout(1.0):
                await self._redis.publish(self.channel, token)
        except Exception as exc:
            log.warning(
                "key invalidation not published (%s); other instances rely on the TTL", type(exc).__name__
            )

    async def stop(self) -> None:
        """Unsubscribe and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
