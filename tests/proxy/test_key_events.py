"""Cross-instance key invalidation over Redis pub/sub: two ``KeyEvents`` on one channel (one per
"instance"), a message drops the key from the other cache, and the subscription recovers after a Redis
restart. Uses a private ``redis-server`` (never the machine's shared one)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from tests.helpers.redis_server import RedisServer, redis_server_available

from ledgerlm.proxy.auth import KeyCache, KeyContext
from ledgerlm.proxy.key_events import ALL_KEYS, KeyEvents, channel_for


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if not redis_server_available():
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server
    server.stop()


async def _until(predicate: object, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_invalidation_reaches_the_other_instance_and_survives_a_restart(
    redis_server: RedisServer,
) -> None:
    mine, theirs = KeyCache(ttl_s=600), KeyCache(ttl_s=600)
    sender = KeyEvents(redis_server.url, "sqlite:///same.db", mine)
    receiver = KeyEvents(redis_server.url, "sqlite:///same.db", theirs)
    other_ledger = KeyEvents(redis_server.url, "sqlite:///other.db", KeyCache(ttl_s=600))
    assert channel_for("sqlite:///same.db") != channel_for("sqlite:///other.db")
    for events in (sender, receiver, other_ledger):
        await events.start()
        assert await events.wait_subscribed()
    try:
        theirs.put("t1", KeyContext(token="t1"))
        theirs.put("t2", KeyContext(token="t2"))
        await sender.publish("t1")
        await _until(lambda: theirs.get("t1") is None)
        assert theirs.get("t2") is not None and other_ledger.received == 0
        redis_server.restart()
        await _until(lambda: not receiver._subscribed.is_set() or receiver.received > 1, timeout_s=5)
        assert await receiver.wait_subscribed(timeout_s=15)
        await _until(lambda: sender._subscribed.is_set())

        async def published() -> bool:
            await sender.publish(ALL_KEYS)
            return theirs.get("t2") is None

        async with asyncio.timeout(15):
            while not await published():
                await asyncio.sleep(0.1)
    finally:
        for events in (sender, receiver, other_ledger):
            await events.stop()
