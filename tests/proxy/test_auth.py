"""Auth: header parsing, master key, key cache with TTL and invalidation, expiry, blocked, models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledgerlm.errors import AuthenticationError, PermissionDeniedError, ServiceUnavailableError
from ledgerlm.proxy.auth import (
    Authenticator,
    KeyCache,
    KeyContext,
    check_model,
    generate_key,
    hash_key,
    key_from_headers,
    mask_key,
)


def test_key_from_headers() -> None:
    assert key_from_headers({"authorization": "Bearer sk-1"}) == "sk-1"
    assert key_from_headers({"authorization": "bearer  sk-2 "}) == "sk-2"
    assert key_from_headers({"x-api-key": "sk-3"}) == "sk-3"
    assert key_from_headers({"api-key": "sk-4"}) == "sk-4"
    assert key_from_headers({}) is None


def test_generated_keys_are_random_and_hashed() -> None:
    a, b = generate_key(), generate_key()
    assert a.startswith("sk-") and a != b and len(a) > 40
    assert len(hash_key(a)) == 64 and hash_key(a) != a
    assert mask_key(a) == "sk-..." + a[-4:]


class _Store:
    def __init__(self) -> None:
        self.rows: dict[str, KeyContext] = {}
        self.lookups = 0

    async def lookup(self, token: str) -> KeyContext | None:
        self.lookups += 1
        return self.rows.get(token)


async def test_master_key_is_admin_and_unknown_key_is_401() -> None:
    store = _Store()
    auth = Authenticator("sk-master", store.lookup, KeyCache(ttl_s=60))
    ctx = await auth.authenticate({"authorization": "Bearer sk-master"})
    assert ctx.is_admin and ctx.token == hash_key("sk-master")
    with pytest.raises(AuthenticationError) as info:
        await auth.authenticate({"authorization": "Bearer sk-nope"})
    assert info.value.status_code == 401
    with pytest.raises(AuthenticationError):
        await auth.authenticate({})


async def test_cache_hits_and_invalidation() -> None:
    store = _Store()
    key = generate_key()
    store.rows[hash_key(key)] = KeyContext(token=hash_key(key))
    cache = KeyCache(ttl_s=60)
    auth = Authenticator("sk-master", store.lookup, cache)
    for _ in range(3):
        await auth.authenticate({"x-api-key": key})
    assert store.lookups == 1
    del store.rows[hash_key(key)]
    cache.invalidate(hash_key(key))
    with pytest.raises(AuthenticationError):
        await auth.authenticate({"x-api-key": key})


async def test_invalidate_all_and_zero_ttl() -> None:
    store = _Store()
    key = generate_key()
    store.rows[hash_key(key)] = KeyContext(token=hash_key(key))
    cache = KeyCache(ttl_s=60)
    auth = Authenticator("sk-master", store.lookup, cache)
    await auth.authenticate({"x-api-key": key})
    cache.invalidate_all()
    await auth.authenticate({"x-api-key": key})
    assert store.lookups == 2 and cache.version == 1
    uncached = Authenticator("sk-master", store.lookup, KeyCache(ttl_s=0))
    await uncached.authenticate({"x-api-key": key})
    await uncached.authenticate({"x-api-key": key})
    assert store.lookups == 4


async def test_expired_and_blocked_keys_are_401_even_when_cached() -> None:
    store = _Store()
    expired, blocked = generate_key(), generate_key()
    store.rows[hash_key(expired)] = KeyContext(
        token=hash_key(expired), expires=datetime.now(UTC) - timedelta(seconds=1)
    )
    store.rows[hash_key(blocked)] = KeyContext(token=hash_key(blocked), blocked=True)
    auth = Authenticator("sk-master", store.lookup, KeyCache(ttl_s=60))
    with pytest.raises(AuthenticationError, match="expired"):
        await auth.authenticate({"x-api-key": expired})
    with pytest.raises(AuthenticationError, match="expired"):
        await auth.authenticate({"x-api-key": expired})
    with pytest.raises(AuthenticationError, match="blocked"):
        await auth.authenticate({"x-api-key": blocked})


async def test_no_master_key_means_open_proxy() -> None:
    auth = Authenticator(None, _Store().lookup, KeyCache())
    assert (await auth.authenticate({})).is_admin


def test_model_permissions() -> None:
    check_model(KeyContext(token="t"), "anything")
    check_model(KeyContext(token="t", models=["a"]), "a")
    check_model(KeyContext(token="t", models=["all-proxy-models"]), "b")
    with pytest.raises(PermissionDeniedError) as info:
        check_model(KeyContext(token="t", models=["a"]), "b")
    assert info.value.status_code == 403
    with pytest.raises(PermissionDeniedError):
        check_model(KeyContext(token="t", models=[], team_models=["x"]), "y")


async def test_stale_entry_serves_while_store_is_down_but_never_an_invalidated_one() -> None:
    store = _Store()
    key = generate_key()
    store.rows[hash_key(key)] = KeyContext(token=hash_key(key))
    cache = KeyCache(ttl_s=0.0001)
    cache.ttl_s = 60
    auth = Authenticator("sk-master", store.lookup, cache)
    await auth.authenticate({"x-api-key": key})
    cache.ttl_s = 0.0  # every entry is now stale

    async def broken(token: str) -> KeyContext | None:
        raise ConnectionError("database down")

    auth.lookup = broken
    assert (await auth.authenticate({"x-api-key": key})).token == hash_key(key)
    cache.invalidate(hash_key(key))
    with pytest.raises(ServiceUnavailableError) as info:
        await auth.authenticate({"x-api-key": key})
    assert info.value.status_code == 503
