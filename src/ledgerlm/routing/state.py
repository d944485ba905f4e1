"""Routing state of each deployment: cooldowns, failures per minute, requests in flight, latency,
requests and tokens per minute. ``MemoryState`` for one instance; ``RedisState`` shares it between
proxy instances (LiteLLM keeps the same facts in its "routing cache", Redis when configured).

Every method takes deployment ids (``Entry.id``). Times are seconds; minutes are UTC wall-clock minutes
(``int(time.time() // 60)``), as LiteLLM's per-minute rpm/tpm windows.

Redis keys (``<prefix>`` = ``ledgerlm:routing``): ``<prefix>:cool:<id>`` (value: the cooldown's end,
epoch seconds; expires with it), ``<prefix>:fails:<id>:<minute>``, ``<prefix>:busy:<id>``,
``<prefix>:rpm:<id>:<minute>``, ``<prefix>:tpm:<id>:<minute>`` (expire after 120 s), and
``<prefix>:lat:<id>`` (the last ``LATENCY_SAMPLES`` latencies, a list), and the budget spend keys of
``routing.budget_limits`` (``<prefix>:budget:...``: USD, ``INCRBYFLOAT``, expiring with their period).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

__all__ = ["LATENCY_SAMPLES", "MemoryState", "RedisState", "RoutingState", "Stats"]

LATENCY_SAMPLES = 10
_PREFIX = "ledgerlm:routing"


def _minute(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 60)


@dataclass(slots=True)
class Stats:
    """What the strategies read about one deployment: ``busy`` (calls in flight), ``rpm``/``tpm``
    (requests / tokens this minute), ``latency_s`` (mean of the last samples; None when untried),
    ``cooldown_s`` (seconds of cooldown left; 0 when available)."""

    busy: int = 0
    rpm: int = 0
    tpm: int = 0
    latency_s: float | None = None
    cooldown_s: float = 0.0


class RoutingState(Protocol):
    """The state operations the router uses (memory or Redis)."""

    async def stats(self, ids: list[str]) -> dict[str, Stats]: ...
    async def begin(self, deployment_id: str) -> None: ...
    async def end(self, deployment_id: str, latency_s: float | None, tokens: int) -> None: ...
    async def fail(self, deployment_id: str) -> int: ...
    async def cool(self, deployment_id: str, seconds: float) -> None: ...
    async def spend(self, keys: list[str]) -> dict[str, Decimal]: ...
    async def add_spend(self, key: str, usd: Decimal, ttl_s: float) -> None: ...
    async def close(self) -> None: ...


class MemoryState:
    """In-process state (one proxy instance, or the SDK)."""

    def __init__(self) -> None:
        self.cooldown_until: dict[str, float] = {}
        self.fails: dict[str, tuple[int, int]] = {}
        self.busy: dict[str, int] = {}
        self.usage: dict[str, tuple[int, int, int]] = {}  # id -> (minute, requests, tokens)
        self.latency: dict[str, deque[float]] = {}
        self.spent: dict[str, tuple[float, Decimal]] = {}  # budget key -> (expiry, USD)

    async def stats(self, ids: list[str]) -> dict[str, Stats]:
        now = time.time()
        minute = _minute(now)
        out: dict[str, Stats] = {}
        for i in ids:
            used = self.usage.get(i)
            rpm, tpm = (used[1], used[2]) if used and used[0] == minute else (0, 0)
            samples = self.latency.get(i)
            out[i] = Stats(
                busy=self.busy.get(i, 0),
                rpm=rpm,
                tpm=tpm,
                latency_s=(sum(samples) / len(samples)) if samples else None,
                cooldown_s=max(0.0, self.cooldown_until.get(i, 0.0) - now),
            )
        return out

    async def begin(self, deployment_id: str) -> None:
        self.busy[deployment_id] = self.busy.get(deployment_id, 0) + 1
        minute = _minute()
        used = self.usage.get(deployment_id)
        requests, tokens = (used[1], used[2]) if used and used[0] == minute else (0, 0)
        self.usage[deployment_id] = (minute, requests + 1, tokens)

    async def end(self, deployment_id: str, latency_s: float | None, tokens: int) -> None:
        self.busy[deployment_id] = max(0, self.busy.get(deployment_id, 0) - 1)
        if tokens:
            minute = _minute()
            used = self.usage.get(deployment_id)
            requests, spent = (used[1], used[2]) if used and used[0] == minute else (0, 0)
            self.usage[deployment_id] = (minute, requests, spent + tokens)
        if latency_s is not None:
            self.latency.setdefault(deployment_id, deque(maxlen=LATENCY_SAMPLES)).append(latency_s)

    async def fail(self, deployment_id: str) -> int:
        minute = _minute()
        seen = self.fails.get(deployment_id)
        count = (seen[1] if seen and seen[0] == minute else 0) + 1
        self.fails[deployment_id] = (minute, count)
        return count

    async def cool(self, deployment_id: str, seconds: float) -> None:
        self.cooldown_until[deployment_id] = time.time() + seconds
        self.fails.pop(deployment_id, None)

    async def spend(self, keys: list[str]) -> dict[str, Decimal]:
        now = time.time()
        return {k: v[1] if (v := self.spent.get(k)) and v[0] > now else Decimal(0) for k in keys}

    async def add_spend(self, key: str, usd: Decimal, ttl_s: float) -> None:
        now = time.time()
        found = self.spent.get(key)
        total = found[1] if found and found[0] > now else Decimal(0)
        self.spent[key] = (now + ttl_s, total + usd)
        if len(self.spent) > 10_000:  # expired windows
            self.spent = {k: v for k, v in self.spent.items() if v[0] > now}

    async def close(self) -> None:
        return None


class RedisState:
    """State shared through Redis (``redis.asyncio``); the client is made on first use (never at
    import or construction). Every command has the client's socket timeout (``timeout_s``)."""

    def __init__(self, url: str, *, timeout_s: float = 1.0, prefix: str = _PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout_s = timeout_s
        self._client: Any = None

    def _redis(self) -> Any:
        if self._client is None:
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(
                self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
            )
        return self._client

    def _key(self, kind: str, deployment_id: str, minute: int | None = None) -> str:
        tail = "" if minute is None else f":{minute}"
        return f"{self.prefix}:{kind}:{deployment_id}{tail}"

    async def stats(self, ids: list[str]) -> dict[str, Stats]:
        now = time.time()
        minute = _minute(now)
        pipe = self._redis().pipeline(transaction=False)
        for i in ids:
            pipe.get(self._key("cool", i))
            pipe.get(self._key("busy", i))
            pipe.get(self._key("rpm", i, minute))
            pipe.get(self._key("tpm", i, minute))
            pipe.lrange(self._key("lat", i), 0, -1)
        values = await pipe.execute()
        out: dict[str, Stats] = {}
        for n, i in enumerate(ids):
            cool, busy, rpm, tpm, lat = values[5 * n : 5 * n + 5]
            samples = [float(x) for x in lat or ()]
            out[i] = Stats(
                busy=max(0, int(busy or 0)),
                rpm=int(rpm or 0),
                tpm=int(tpm or 0),
                latency_s=(sum(samples) / len(samples)) if samples else None,
                cooldown_s=max(0.0, float(cool or 0) - now),
            )
        return out

    async def begin(self, deployment_id: str) -> None:
        rpm = self._key("rpm", deployment_id, _minute())
        pipe = self._redis().pipeline(transaction=False)
        pipe.incr(self._key("busy", deployment_id))
        pipe.expire(self._key("busy", deployment_id), 3600)
        pipe.incr(rpm)
        pipe.expire(rpm, 120)
        await pipe.execute()

    async def end(self, deployment_id: str, latency_s: float | None, tokens: int) -> None:
        pipe = self._redis().pipeline(transaction=False)
        pipe.decr(self._key("busy", deployment_id))
        if tokens:
            tpm = self._key("tpm", deployment_id, _minute())
            pipe.incrby(tpm, tokens)
            pipe.expire(tpm, 120)
        if latency_s is not None:
            lat = self._key("lat", deployment_id)
            pipe.lpush(lat, f"{latency_s:.6f}")
            pipe.ltrim(lat, 0, LATENCY_SAMPLES - 1)
            pipe.expire(lat, 3600)
        await pipe.execute()

    async def fail(self, deployment_id: str) -> int:
        key = self._key("fails", deployment_id, _minute())
        pipe = self._redis().pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = await pipe.execute()
        return int(count)

    async def cool(self, deployment_id: str, seconds: float) -> None:
        until = time.time() + seconds
        pipe = self._redis().pipeline(transaction=False)
        pipe.set(self._key("cool", deployment_id), f"{until:.6f}", px=max(1, int(seconds * 1000)))
        pipe.delete(self._key("fails", deployment_id, _minute()))
        await pipe.execute()

    async def spend(self, keys: list[str]) -> dict[str, Decimal]:
        values = await self._redis().mget([f"{self.prefix}:{k}" for k in keys])
        out: dict[str, Decimal] = {}
        for key, value in zip(keys, values, strict=True):
            text = value.decode() if isinstance(value, bytes) else value
            out[key] = Decimal(text) if text else Decimal(0)
        return out

    async def add_spend(self, key: str, usd: Decimal, ttl_s: float) -> None:
        pipe = self._redis().pipeline(transaction=False)
        pipe.incrbyfloat(f"{self.prefix}:{key}", float(usd))
        pipe.expire(f"{self.prefix}:{key}", max(1, int(ttl_s)))
        await pipe.execute()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
