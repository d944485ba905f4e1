"""Response cache (LiteLLM "Caching": ``litellm_settings.cache: true`` + ``cache_params``;
https://docs.litellm.ai/docs/proxy/caching). Semantic caching is not provided.

::

    litellm_settings:
      cache: true
      cache_params:
        type: local | redis          # redis: host/port/password or url (else general_settings.redis_url)
        namespace: "ledgerlm"        # key prefix
        ttl: 600                     # seconds (default 600 local, none set: 600)
        supported_call_types: ["acompletion", "aembedding"]   # others never cached

Per request (body ``cache``): ``{"no-cache": true}`` skips the lookup, ``{"no-store": true}`` skips the
store, ``{"ttl": N}`` stores for N seconds, ``{"s-maxage": N}`` accepts only an entry at most N
seconds old, ``{"namespace": "x"}`` uses another prefix.

The key is the SHA-256 of the call type, the requested model and the request body without the keys
that do not change the answer (``stream``, ``stream_options``, ``metadata``, ``user``, ``cache``,
``tags`` and the routing keys). An entry (JSON) holds the response body, its usage (tokens), the cost
it had (USD decimal string: what a hit saves), the deployment and the time it was stored.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from ledgerlm.errors import BadRequestError, ConfigError

__all__ = ["CacheControls", "CacheSettings", "LocalCache", "RedisCache", "ResponseCache", "cache_settings"]

DEFAULT_CALL_TYPES = (
    "completion",
    "acompletion",
    "embedding",
    "aembedding",
    "text_completion",
    "atext_completion",
    "messages",
    "amessages",
)
_NOT_IN_KEY = frozenset(
    {
        "stream",
        "stream_options",
        "metadata",
        "user",
        "cache",
        "tags",
        "fallbacks",
        "context_window_fallbacks",
        "content_policy_fallbacks",
        "num_retries",
        "timeout",
        "stream_timeout",
        "disable_fallbacks",
        "mock_testing_fallbacks",
    }
)


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """``type`` (local | redis), ``namespace``, ``ttl`` (seconds), ``supported_call_types``,
    ``redis_url`` (redis type), ``max_entries`` (local type)."""

    type: str = "local"
    namespace: str = "ledgerlm"
    ttl: float = 600.0
    supported_call_types: tuple[str, ...] = DEFAULT_CALL_TYPES
    redis_url: str | None = None
    max_entries: int = 10_000


def _redis_url(params: Mapping[str, Any], fallback: str | None) -> str | None:
    if params.get("url") or params.get("redis_url"):
        return str(params.get("url") or params.get("redis_url"))
    if params.get("host"):
        password = params.get("password")
        auth = f":{password}@" if password else ""
        return f"redis://{auth}{params['host']}:{params.get('port') or 6379}"
    return fallback


def cache_settings(litellm: Mapping[str, Any], redis_fallback: str | None = None) -> CacheSettings | None:
    """``CacheSettings`` when ``litellm_settings.cache`` is on, else None. Raises ``ConfigError``."""
    if not litellm.get("cache"):
        return None
    params = litellm.get("cache_params") or {}
    if not isinstance(params, Mapping):
        raise ConfigError("must be a mapping", path="litellm_settings.cache_params")
    kind = str(params.get("type", "local"))
    if kind not in ("local", "redis"):
        raise ConfigError(
            "must be 'local' or 'redis' (semantic caches are not provided)",
            path="litellm_settings.cache_params.type",
        )
    url = _redis_url(params, redis_fallback) if kind == "redis" else None
    if kind == "redis" and not url:
        raise ConfigError(
            "type redis needs host/port or url (or general_settings.redis_url)",
            path="litellm_settings.cache_params",
        )
    ttl = params.get("ttl", 600)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
        raise ConfigError("must be a positive number of seconds", path="litellm_settings.cache_params.ttl")
    types = params.get("supported_call_types") or DEFAULT_CALL_TYPES
    return CacheSettings(kind, str(params.get("namespace") or "ledgerlm"), float(ttl), tuple(types), url)


@dataclass(slots=True)
class CacheControls:
    """Per-request ``cache`` controls (module docstring); seconds."""

    no_cache: bool = False
    no_store: bool = False
    ttl: float | None = None
    s_maxage: float | None = None
    namespace: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> CacheControls:
        """From the body's ``cache`` object; 400 ``invalid_type`` naming a bad member."""
        given = body.get("cache")
        if given is None:
            return cls()
        if not isinstance(given, Mapping):
            raise BadRequestError("'cache' must be an object", param="cache", code="invalid_type")
        out = cls(no_cache=bool(given.get("no-cache")), no_store=bool(given.get("no-store")))
        for name, attr in (("ttl", "ttl"), ("s-maxage", "s_maxage")):
            value = given.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise BadRequestError(f"'cache.{name}' must be a number of seconds", param=f"cache.{name}")
            setattr(out, attr, float(value))
        if given.get("namespace") is not None:
            out.namespace = str(given["namespace"])
        return out


class _Backend(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl: float) -> None: ...
    async def close(self) -> None: ...


class LocalCache:
    """In-process entries with expiry (LRU, at most ``max_entries``)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        found = self._items.get(key)
        if found is None or found[0] <= time.monotonic():
            self._items.pop(key, None)
            return None
        self._items.move_to_end(key)
        return found[1]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._items[key] = (time.monotonic() + ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    async def close(self) -> None:
        self._items.clear()


class RedisCache:
    """Entries in Redis (``SET key value EX ttl``); the client is made on first use."""

    def __init__(self, url: str, *, timeout_s: float = 1.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._client: Any = None

    def _redis(self) -> Any:
        if self._client is None:
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(
                self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
            )
        return self._client

    async def get(self, key: str) -> bytes | None:
        value = await self._redis().get(key)
        return bytes(value) if value is not None else None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._redis().set(key, value, px=max(1, int(ttl * 1000)))

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


OUTAGE_SKIP_S = 5.0
"""Seconds the cache is skipped after its backend failed (a Redis outage costs one timeout, not one per
request); the backend's own deadline is 1 s per command."""


@dataclass(slots=True)
class ResponseCache:
    """The cache of one proxy or SDK router: ``key``, ``lookup``, ``store`` (module docstring). A backend
    error propagates to the caller (who logs it and goes on uncached) and the cache is skipped for
    ``OUTAGE_SKIP_S``."""

    settings: CacheSettings
    backend: _Backend = field(default_factory=LocalCache)
    down_until: float = 0.0

    def available(self) -> bool:
        """False for ``OUTAGE_SKIP_S`` after a backend error."""
        return time.monotonic() >= self.down_until

    def _failed(self) -> None:
        self.down_until = time.monotonic() + OUTAGE_SKIP_S

    @classmethod
    def build(cls, settings: CacheSettings) -> ResponseCache:
        """A cache with the backend ``settings.type`` names (no I/O)."""
        if settings.type == "redis" and settings.redis_url:
            return cls(settings, RedisCache(settings.redis_url))
        return cls(settings, LocalCache(settings.max_entries))

    def supports(self, call_type: str) -> bool:
        """Whether calls of ``call_type`` are cached."""
        return call_type in self.settings.supported_call_types

    def key(self, call_type: str, model: str, body: Mapping[str, Any], controls: CacheControls) -> str:
        """``<namespace>:<sha256 hex>`` of what determines the answer."""
        kept = {k: v for k, v in body.items() if k not in _NOT_IN_KEY}
        digest = hashlib.sha256(
            orjson.dumps([call_type, model, kept], option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        return f"{controls.namespace or self.settings.namespace}:{digest}"

    async def lookup(self, key: str, controls: CacheControls) -> dict[str, Any] | None:
        """The entry (``body``, ``usage``, ``cost``, ``deployment_id``, ``stored_at``) or None."""
        if controls.no_cache or not self.available():
            return None
        try:
            raw = await self.backend.get(key)
        except Exception:
            self._failed()
            raise
        if raw is None:
            return None
        entry: dict[str, Any] = orjson.loads(raw)
        if (
            controls.s_maxage is not None
            and time.time() - float(entry.get("stored_at", 0)) > controls.s_maxage
        ):
            return None
        return entry

    async def store(self, key: str, entry: dict[str, Any], controls: CacheControls) -> None:
        """Keep ``entry`` for the request's ``ttl`` (else the configured one) unless ``no-store``."""
        if controls.no_store or not self.available():
            return
        value = orjson.dumps({**entry, "stored_at": time.time()})
        try:
            await self.backend.set(
                key, value, controls.ttl if controls.ttl is not None else self.settings.ttl
            )
        except Exception:
            self._failed()
            raise
