"""The dashboard's ``/login`` attempt limit on the machine's real Redis (``RedisLoginLimiter``), each test
under its own key prefix (its keys deleted after):

* two limiters (two instances) count together: 5 failures spread over both, the 6th attempt is refused
  on either with ``Retry-After`` <= 300 s; other usernames and other IPs are not affected;
* every count has the window as TTL; a success clears that username's count (not the IP's);
* 30 failures from one IP over many usernames refuse a new username (a spray);
* the window slides: once the oldest failure leaves it, the next attempt is allowed;
* Redis unreachable: the attempt is counted in process (a warning logged), never an error, and the
  limit still holds there;
* the proxy picks the Redis limiter from its Redis config, under ``budget_settings.redis_prefix``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from redis.asyncio import Redis

from ledgerlm.errors import RateLimitError
from ledgerlm.proxy.ui.login_limit import LoginLimiter, close_limiter, limiter
from ledgerlm.proxy.ui.login_limit_redis import RedisLoginLimiter


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    name = "{ledgerlm-login-test-" + uuid.uuid4().hex + "}"
    yield name
    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=name + "*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def _refused(limiter: RedisLoginLimiter | LoginLimiter, username: str, ip: str) -> RateLimitError:
    with pytest.raises(RateLimitError) as caught:
        await limiter.check(username, ip)
    assert caught.value.code == "too_many_login_attempts"
    return caught.value


async def test_two_instances_share_the_counts(redis_url: str, prefix: str) -> None:
    first = RedisLoginLimiter.from_url(redis_url, prefix=prefix)
    second = RedisLoginLimiter.from_url(redis_url, prefix=prefix)
    try:
        for attempt in range(5):
            limiter = (first, second)[attempt % 2]
            await limiter.check("Frank", "10.0.0.1")
            await limiter.failed("Frank", "10.0.0.1")
        for limiter in (first, second):
            refused = await _refused(limiter, "frank", "10.0.0.1")  # usernames compare case-blind
            assert refused.retry_after is not None and 295 < refused.retry_after <= 300
        await first.check("grace", "10.0.0.1")  # another username, and the same one elsewhere
        await second.check("frank", "10.0.0.2")
        assert not first.redis_down and not first.fallback._failures  # counted on Redis only
    finally:
        await first.aclose()
        await second.aclose()


async def test_ttl_is_the_window_and_a_success_clears_the_username(redis_url: str, prefix: str) -> None:
    limiter = RedisLoginLimiter.from_url(redis_url, prefix=prefix)
    try:
        for _ in range(4):
            await limiter.failed("heidi", "10.0.0.3")
        user_key, ip_key = limiter.keys("heidi", "10.0.0.3")
        assert "heidi" not in user_key  # the username (maybe a mistyped password) is not stored
        for key in (user_key, ip_key):
            assert 299_000 < await limiter.client.pttl(key) <= 300_000
        await limiter.succeeded("heidi", "10.0.0.3")
        assert await limiter.client.exists(user_key) == 0
        assert await limiter.client.zcard(ip_key) == 4  # the IP's count stays
        for _ in range(5):
            await limiter.check("heidi", "10.0.0.3")
            await limiter.failed("heidi", "10.0.0.3")
        await _refused(limiter, "heidi", "10.0.0.3")
        assert await limiter.client.zcard(user_key) == 5
    finally:
        await limiter.aclose()


async def test_a_spray_from_one_ip_is_refused(redis_url: str, prefix: str) -> None:
    limiter = RedisLoginLimiter.from_url(redis_url, prefix=prefix, max_ip_failures=30)
    try:
        for i in range(30):
            await limiter.failed(f"user-{i}", "10.0.0.4")
        await _refused(limiter, "someone-new", "10.0.0.4")
        await limiter.check("someone-new", "10.0.0.5")
        assert await limiter.client.zcard(limiter.keys("", "10.0.0.4")[1]) == 30  # bounded: the newest 30
        await limiter.failed("user-30", "10.0.0.4")
        assert await limiter.client.zcard(limiter.keys("", "10.0.0.4")[1]) == 30
    finally:
        await limiter.aclose()


async def test_the_window_slides(redis_url: str, prefix: str) -> None:
    limiter = RedisLoginLimiter.from_url(redis_url, prefix=prefix, max_failures=2, window_s=0.6)
    try:
        await limiter.failed("ivan", "10.0.0.6")
        await asyncio.sleep(0.3)
        await limiter.failed("ivan", "10.0.0.6")
        refused = await _refused(limiter, "ivan", "10.0.0.6")
        assert refused.retry_after is not None and 0 < refused.retry_after <= 0.35
        await asyncio.sleep(refused.retry_after + 0.05)  # the first failure left the window
        await limiter.check("ivan", "10.0.0.6")
        await asyncio.sleep(0.6)
        assert await limiter.client.exists(*limiter.keys("ivan", "10.0.0.6")) == 0  # expired
    finally:
        await limiter.aclose()


async def test_redis_unreachable_counts_in_process(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisLoginLimiter.from_url("redis://127.0.0.1:1/0", prefix="{unused}", io_timeout_s=0.5)
    try:
        with caplog.at_level(logging.WARNING, logger="ledgerlm.proxy"):
            for _ in range(5):
                await limiter.check("judy", "10.0.0.7")
                await limiter.failed("judy", "10.0.0.7")
            refused = await _refused(limiter, "judy", "10.0.0.7")
        assert refused.retry_after is not None and 0 < refused.retry_after <= 300
        assert limiter.redis_down
        warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
        assert len(warnings) == 1  # once per outage, not once per attempt
        await limiter.succeeded("judy", "10.0.0.7")
        await limiter.check("judy", "10.0.0.7")
    finally:
        await limiter.aclose()


async def test_the_proxy_uses_its_redis_and_prefix(redis_url: str, prefix: str) -> None:
    admission = SimpleNamespace(inner=SimpleNamespace(config=SimpleNamespace(redis_prefix=prefix)))
    state = SimpleNamespace(extra={}, key_events=SimpleNamespace(redis_url=redis_url), admission=admission)
    found = limiter(state)
    assert isinstance(found, RedisLoginLimiter) and found.prefix == prefix
    assert limiter(state) is found
    await found.failed("kim", "10.0.0.8")
    assert await found.client.exists(*found.keys("kim", "10.0.0.8")) == 2
    await close_limiter(state)
    assert state.extra == {}
    plain = SimpleNamespace(extra={}, key_events=SimpleNamespace(redis_url=None), admission=None)
    assert isinstance(limiter(plain), LoginLimiter)
