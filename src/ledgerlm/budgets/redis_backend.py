"""Redis counters shared by every proxy instance: atomic Lua check-and-reserve, settle and release.

See ``ledgerlm.budgets.lua`` for the key layout. The database stays the record: settled-spend counters
are loaded from it (``SpendLoader``) when missing, so after a Redis restart or flush the counters are
rebuilt lazily from the database; the ``P:epoch`` marker detects a fresh server, and the instance that
sets it first drops any stale spend counters so that they reload too. The holds of calls in flight
vanish with a restart: the instance that detects it re-reserves the calls IT has in flight (kept in
``_held``) before admitting anything else, so they still count against the budget and settle normally.
Every instance also watches the marker (``EPOCH_WATCH_S``; each rebuild writes a new value): when another
instance rebuilt first, it puts its own holds back too. Until every instance had the time to do so, a
rebuild opens a quiet window (``RESTORE_WINDOW_S``, its deadline stored in the marker): budgeted
requests are refused (503 ``budgets_unavailable`` with Retry-After) on every instance, and only restored
holds are admitted, so the instance that rebuilt first cannot hand out what another instance's calls in
flight still hold (issue 14: measured +82% of a budget before). A settle or release on a connection broken by
the restart is retried once on a fresh connection. A call that settles without its hold (after the
restart, before the rebuild, or while Redis is down) still counts: its cost is added to the counters
that exist, and to the counters loaded from the database during the next ``ORPHAN_TTL_S`` seconds (its
row may not be in the database yet). Counting such a call twice is possible and safe (it admits less);
counting it zero times would let the budget be exceeded. What remains uncounted after a restart is the
settled spend whose rows the spend writer had not yet written when a counter was reloaded (the overshoot
bound in docs/budgets.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from ledgerlm.budgets.backend import WINDOW_S, window_of
from ledgerlm.budgets.lua import ADMIT, LOAD, RELEASE, SETTLE
from ledgerlm.budgets.money import to_nano
from ledgerlm.budgets.types import (
    AdmitPlan,
    AdmitResult,
    EntityRef,
    RateSnapshot,
    SpendLoader,
    zero_spend,
)

__all__ = ["DEFAULT_PREFIX", "RESTORE_WINDOW_S", "CountersRebuilding", "RedisBudgets"]

log = logging.getLogger("ledgerlm.budgets")

DEFAULT_PREFIX = "{ledgerlm}"
SEP = "\x1f"
_MAX_ATTEMPTS = 5
_LATE_SETTLE_S = 86400  # a reservation record outlives its lease by a day so a late settle still counts
EPOCH_WATCH_S = 1.0  # how often each instance checks the epoch marker (seconds)
RESTORE_WINDOW_S = 3 * EPOCH_WATCH_S  # quiet window after a rebuild: every instance restores its holds
ORPHAN_TTL_S = 60.0  # how long a cost settled without its hold is added to counters loaded from the database
_INCR_EXISTING = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, ARGV[1]) end
end
return 1
"""


class CountersRebuilding(RuntimeError):
    """Budget counters are in a rebuild's quiet window; ``retry_after_s``: seconds until it ends."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            f"budget counters are being rebuilt after a Redis restart; retry in {retry_after_s:.1f}s"
        )
        self.retry_after_s = retry_after_s


class RedisBudgets:
    """``BudgetBackend`` on Redis. ``client``: a ``redis.asyncio.Redis``; or pass ``url``.

    ``prefix`` namespaces every key (tests use a unique one); ``loader`` returns settled spend (USD).
    """

    def __init__(
        self,
        client: Redis | None = None,
        *,
        url: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        loader: SpendLoader = zero_spend,
    ) -> None:
        if client is None:
            if url is None:
                raise ValueError("RedisBudgets needs a client or a url")
            client = Redis.from_url(url)
        self._r = client
        self._p = prefix
        self._loader = loader
        self._run_id = uuid.uuid4().hex
        self._admit = client.register_script(ADMIT)
        self._settle = client.register_script(SETTLE)
        self._release = client.register_script(RELEASE)
        self._load_script = client.register_script(LOAD)
        self._held: dict[str, tuple[AdmitPlan, float]] = {}  # reservation id -> admitted plan, time
        self._orphans: list[tuple[float, EntityRef, int]] = []  # (monotonic time, entity, nano-USD)
        self._incr_existing = client.register_script(_INCR_EXISTING)
        self._rebuild = asyncio.Lock()  # admits wait while holds are being restored after a restart
        self._generation = 0
        self._epoch: str | None = None  # the marker value this instance's holds were restored for
        self._watcher: asyncio.Task[None] | None = None

    def _key(self, *parts: str) -> str:
        return ":".join((self._p, *parts))

    async def start(self, quiet_s: float = 0.0) -> None:
        """Claim the epoch marker if none exists (fresh or restarted Redis) and drop stale spend counters.
        ``quiet_s``: the quiet window a rebuild opens (0 at first start: no holds can exist yet)."""
        quiet_until = int((time.time() + quiet_s) * 1000) if quiet_s > 0 else 0
        claim = f"{self._run_id}:{uuid.uuid4().hex[:8]}:{quiet_until}"  # unique per rebuild
        if await self._r.set(self._key("epoch"), claim, nx=True):
            log.info("budget counters: new Redis epoch; spend counters reload from the database")
            async for key in self._r.scan_iter(match=self._key("sp", "*"), count=500):
                await self._r.delete(key)
        marker = await self._r.get(self._key("epoch"))
        self._epoch = None if marker is None else _text(marker)
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch_epoch(), name="ledgerlm-budget-epoch")

    async def _watch_epoch(self) -> None:
        """Notice a Redis restart without waiting for an admit: rebuild (marker missing), or restore this
        instance's holds when another instance rebuilt first (marker changed)."""
        while True:
            await asyncio.sleep(EPOCH_WATCH_S)
            try:
                marker = await self._r.get(self._key("epoch"))
                if marker is None:
                    await self._rebuild_once(self._generation)
                elif _text(marker) != self._epoch:
                    await self._follow_epoch(_text(marker))
            except Exception as exc:  # Redis unreachable: admission fails closed meanwhile; retry
                log.debug("budget counters: epoch check failed: %s", type(exc).__name__)

    async def _follow_epoch(self, marker: str) -> None:
        async with self._rebuild:
            if marker == self._epoch:
                return
            log.warning("budget counters: Redis was restarted; restoring this instance's holds")
            await self._restore_held()
            self._epoch = marker
            self._generation += 1

    async def admit(self, plan: AdmitPlan, now_s: float) -> AdmitResult:
        """See ``BudgetBackend.admit``."""
        keys, args = self._admit_call(plan, now_s)
        for _ in range(_MAX_ATTEMPTS):
            if self._rebuild.locked():
                async with self._rebuild:
                    pass
            generation = self._generation
            # a pooled connection broken by a restart: once more on a fresh one (a hold counted twice
            # by a first attempt that did run is conservative, and its lease frees it)
            reply = await _once_more(self._admit, keys, args)
            status = _text(reply[0])
            if status == "QUIET":
                raise CountersRebuilding(int(reply[1]) / 1000)
            if status == "EPOCH":
                await self._rebuild_once(generation)
            elif status == "LOAD":
                await self._load(plan, [int(i) for i in reply[1:]])
            else:
                result = self._result(plan, reply, now_s)
                if result.outcome == "ok":
                    self._held[plan.reservation_id] = (plan, now_s)
                return result
        raise RuntimeError("budget counters could not be loaded from the database into Redis")

    async def _rebuild_once(self, seen: int) -> None:
        """After a restart: claim the epoch and restore this instance's holds, once (concurrent admits
        that saw the same restart wait, then retry)."""
        async with self._rebuild:
            if self._generation != seen:
                return
            log.warning("budget counters: Redis epoch marker missing (restart?); rebuilding")
            await self.start(quiet_s=RESTORE_WINDOW_S)
            await self._restore_held()
            self._generation += 1

    async def _restore_held(self) -> None:
        """Re-reserve this instance's calls in flight after a Redis restart (their holds were lost)."""
        for rid, (plan, now_s) in list(self._held.items()):
            keys, args = self._admit_call(plan, now_s, restoring=True)
            status = "LOAD"
            for _ in range(_MAX_ATTEMPTS):
                reply = await self._admit(keys=keys, args=args)
                status = _text(reply[0])
                if status != "LOAD":
                    break
                await self._load(plan, [int(i) for i in reply[1:]])
            if status != "ok":
                log.warning("budget counters: hold %s not restored after the restart (%s)", rid, status)

    def _admit_call(
        self, plan: AdmitPlan, now_s: float, *, restoring: bool = False
    ) -> tuple[list[str], list[Any]]:
        window, _ = window_of(now_s)
        rid = plan.reservation_id
        keys = [self._key("rexp"), self._key("res", rid), self._key("epoch")]
        for check in plan.budgets:
            slug = check.ref.slug
            keys += [self._key("sp", slug), self._key("rs", slug), self._key("pd", slug)]
        for rate in plan.rates:
            slug = rate.ref.slug
            keys += [self._key("par", slug), self._key("rpm", str(window), slug)]
            keys.append(self._key("tpm", str(window), slug))
        keys += [self._key("sp", ref.slug) for ref in plan.track]
        args: list[Any] = [
            int(now_s * 1000),
            str(plan.amount_nano),
            int((now_s + plan.lease_s) * 1000),
            len(plan.budgets),
            len(plan.rates),
            len(plan.track),
            self._p,
            int(plan.lease_s) + _LATE_SETTLE_S,
            rid,
            2 * WINDOW_S,
            SEP.join(c.ref.slug for c in plan.budgets),
            SEP.join(ref.slug for ref in plan.track),
            SEP.join(r.ref.slug for r in plan.rates),
        ]
        args += [str(c.limit_nano) for c in plan.budgets]
        args += [c.period for c in plan.budgets]
        for rate in plan.rates:
            args += [_limit(rate.rpm), _limit(rate.tpm), _limit(rate.parallel)]
        args.append("1" if restoring else "0")
        return keys, args

    async def _load(self, plan: AdmitPlan, indexes: list[int]) -> None:
        """Load spend counters from the database (missing ones, or ones of another budget period)."""
        periods = [c.period for c in plan.budgets] + [""] * len(plan.track)
        refs = [c.ref for c in plan.budgets] + list(plan.track)
        wanted = [(refs[i - 1], periods[i - 1]) for i in indexes]
        loaded = await self._loader([ref for ref, _ in wanted])
        keys: list[str] = []
        args: list[str] = []
        for ref, period in wanted:
            keys += [self._key("sp", ref.slug), self._key("pd", ref.slug)]
            args += [str(to_nano(loaded.get(ref, 0)) + self._orphaned(ref)), period]
        await self._load_script(keys=keys, args=args)

    def _result(self, plan: AdmitPlan, reply: list[Any], now_s: float) -> AdmitResult:
        status, index = _text(reply[0]), int(reply[1])
        counts = [int(c) for c in reply[5:]]
        _, reset_s = window_of(now_s)
        snaps = tuple(
            RateSnapshot(r.ref, r.rpm, counts[2 * j], r.tpm, counts[2 * j + 1], reset_s)
            for j, r in enumerate(plan.rates)
        )
        if status == "ok":
            return AdmitResult("ok", rates=snaps)
        limit, first, second = int(reply[2]), int(reply[3]), int(reply[4])
        if status == "budget":
            ref = plan.budgets[index - 1].ref
            return AdmitResult("budget", ref, limit, spend_nano=first, reserved_nano=second)
        ref = plan.rates[index - 1].ref
        return AdmitResult(status, ref, limit, count=first, rates=snaps)  # type: ignore[arg-type]

    async def settle(self, reservation_id: str, actual_nano: int, tokens: int, now_s: float) -> bool:
        """See ``BudgetBackend.settle``."""
        window, _ = window_of(now_s)
        keys = [self._key("res", reservation_id), self._key("rexp")]
        args = [self._p, reservation_id, str(actual_nano), str(tokens), str(window), str(2 * WINDOW_S)]
        held = self._held.pop(reservation_id, None)
        try:
            settled = bool(await _once_more(self._settle, keys, args))
        except Exception:  # Redis down (restarting): its counters are gone; count the cost on reload
            if held is not None and actual_nano > 0:
                self._remember_orphan(held[0], actual_nano)
            raise
        if not settled and held is not None and actual_nano > 0:
            refs = self._remember_orphan(held[0], actual_nano)
            await _once_more(self._incr_existing, [self._key("sp", r.slug) for r in refs], [str(actual_nano)])
            log.warning("budget counters: a call settled after its hold vanished; its cost was added")
        return settled

    def _remember_orphan(self, plan: AdmitPlan, actual_nano: int) -> list[EntityRef]:
        """Keep a cost whose hold vanished, for the counters loaded in the next ``ORPHAN_TTL_S`` s."""
        refs = [c.ref for c in plan.budgets] + list(plan.track)
        now = time.monotonic()
        self._orphans = [o for o in self._orphans if now - o[0] < ORPHAN_TTL_S]
        self._orphans += [(now, ref, actual_nano) for ref in refs]
        return refs

    def _orphaned(self, ref: EntityRef) -> int:
        """nano-USD settled without a hold for ``ref`` in the last ``ORPHAN_TTL_S`` seconds."""
        now = time.monotonic()
        return sum(amount for at, who, amount in self._orphans if who == ref and now - at < ORPHAN_TTL_S)

    async def release(self, reservation_id: str) -> bool:
        """See ``BudgetBackend.release``."""
        keys = [self._key("res", reservation_id), self._key("rexp")]
        self._held.pop(reservation_id, None)
        return bool(await _once_more(self._release, keys, [self._p, reservation_id]))

    async def spend(self, ref: EntityRef) -> tuple[int, int]:
        """See ``BudgetBackend.spend``."""
        sp, rs = await self._r.mget(self._key("sp", ref.slug), self._key("rs", ref.slug))
        return int(sp or 0), int(rs or 0)

    async def reset_spend(self, ref: EntityRef, spend_nano: int = 0) -> None:
        """See ``BudgetBackend.reset_spend``."""
        await self._r.set(self._key("sp", ref.slug), str(spend_nano))

    async def mark_once(self, key: str, ttl_s: float) -> bool:
        """See ``BudgetBackend.mark_once``."""
        ttl_ms = max(1, int(ttl_s * 1000))
        return bool(await self._r.set(self._key("mark", key), "1", nx=True, px=ttl_ms))

    async def close(self) -> None:
        """Stop the epoch watcher and close the Redis connection pool."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self._r.aclose()


async def _once_more(script: Any, keys: list[str], args: list[Any]) -> Any:
    """Run ``script``; after a connection error (a pooled connection broken by a Redis restart) once more,
    on a fresh connection. Used for settle / release, whose scripts are idempotent by reservation id."""
    try:
        return await script(keys=keys, args=args)
    except RedisConnectionError:
        return await script(keys=keys, args=args)


def _limit(value: int | None) -> str:
    return "-1" if value is None else str(value)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
