"""In-process counters: one proxy instance, asyncio-safe.

Each operation runs its check-and-apply without awaiting in between, so it is atomic on the event loop;
the only await (loading an entity's spend from the database) happens before the critical section and
its result is stored only if no other task stored one first.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from ledgerlm.budgets.backend import window_of
from ledgerlm.budgets.money import to_nano
from ledgerlm.budgets.types import (
    AdmitPlan,
    AdmitResult,
    EntityRef,
    RateCheck,
    RateSnapshot,
    SpendLoader,
    zero_spend,
)

__all__ = ["MemoryBudgets"]

_LATE_SETTLE_S = 86400.0


@dataclass(slots=True)
class _Open:
    """An open (or lease-expired) reservation."""

    amount: int
    budgets: tuple[EntityRef, ...]
    track: tuple[EntityRef, ...]
    rates: tuple[EntityRef, ...]
    deadline: float
    expired: bool = False


@dataclass(slots=True)
class _Counters:
    spend: dict[EntityRef, int] = field(default_factory=dict)
    reserved: defaultdict[EntityRef, int] = field(default_factory=lambda: defaultdict(int))
    parallel: defaultdict[EntityRef, int] = field(default_factory=lambda: defaultdict(int))
    requests: defaultdict[tuple[EntityRef, int], int] = field(default_factory=lambda: defaultdict(int))
    tokens: defaultdict[tuple[EntityRef, int], int] = field(default_factory=lambda: defaultdict(int))


class MemoryBudgets:
    """``BudgetBackend`` in the process; ``loader`` gives an entity's settled spend (USD) when first seen."""

    def __init__(self, loader: SpendLoader = zero_spend) -> None:
        self._loader = loader
        self._c = _Counters()
        self._open: dict[str, _Open] = {}
        self._marks: dict[str, float] = {}
        self._period: dict[EntityRef, str] = {}
        self._next_reclaim = 0.0  # no open reservation's lease or late-settle window ends before this

    async def start(self) -> None:
        """Nothing to prepare: counters load lazily from the database."""

    async def _ensure_loaded(self, plan: AdmitPlan) -> None:
        """Load spend of entities not seen yet, or whose counter belongs to another budget period."""
        periods = {c.ref: c.period for c in plan.budgets}
        refs = tuple(periods) + plan.track
        missing = [r for r in refs if r not in self._c.spend or self._period.get(r, "") != periods.get(r, "")]
        if not missing:
            return
        loaded = await self._loader(missing)
        for ref in missing:
            period = periods.get(ref, "")
            if ref not in self._c.spend or self._period.get(ref, "") != period:
                self._c.spend[ref] = to_nano(loaded.get(ref, 0))
                self._period[ref] = period

    async def admit(self, plan: AdmitPlan, now_s: float) -> AdmitResult:
        """See ``BudgetBackend.admit``."""
        await self._ensure_loaded(plan)
        self._reclaim(now_s)
        failure = self._first_failure(plan, now_s)
        if failure is not None:
            return failure
        window, _ = window_of(now_s)
        for check in plan.budgets:
            self._c.reserved[check.ref] += plan.amount_nano
        for rate in plan.rates:
            self._c.parallel[rate.ref] += 1
            self._c.requests[(rate.ref, window)] += 1
        self._open[plan.reservation_id] = _Open(
            amount=plan.amount_nano,
            budgets=tuple(b.ref for b in plan.budgets),
            track=plan.track,
            rates=tuple(r.ref for r in plan.rates),
            deadline=now_s + plan.lease_s,
        )
        self._next_reclaim = min(self._next_reclaim, now_s + plan.lease_s)
        return AdmitResult("ok", rates=self._snapshots(plan.rates, now_s))

    def _first_failure(self, plan: AdmitPlan, now_s: float) -> AdmitResult | None:
        for check in plan.budgets:
            spend, reserved = self._c.spend.get(check.ref, 0), self._c.reserved[check.ref]
            if spend + reserved + plan.amount_nano > check.limit_nano:
                return AdmitResult(
                    "budget", check.ref, check.limit_nano, spend_nano=spend, reserved_nano=reserved
                )
        window, _ = window_of(now_s)
        snaps: tuple[RateSnapshot, ...] = ()
        for rate in plan.rates:
            requests = self._c.requests[(rate.ref, window)]
            tokens = self._c.tokens[(rate.ref, window)]
            parallel = self._c.parallel[rate.ref]
            over_rpm = rate.rpm is not None and requests + 1 > rate.rpm
            over_tpm = rate.tpm is not None and tokens >= rate.tpm
            over_parallel = rate.parallel is not None and parallel + 1 > rate.parallel
            if not (over_rpm or over_tpm or over_parallel):
                continue
            snaps = snaps or self._snapshots(plan.rates, now_s)
            if rate.rpm is not None and requests + 1 > rate.rpm:
                return AdmitResult("rpm", rate.ref, rate.rpm, count=requests, rates=snaps)
            if rate.tpm is not None and tokens >= rate.tpm:
                return AdmitResult("tpm", rate.ref, rate.tpm, count=tokens, rates=snaps)
            if rate.parallel is not None and parallel + 1 > rate.parallel:
                return AdmitResult("parallel", rate.ref, rate.parallel, count=parallel, rates=snaps)
        return None

    def _snapshots(self, rates: tuple[RateCheck, ...], now_s: float) -> tuple[RateSnapshot, ...]:
        window, reset_s = window_of(now_s)
        return tuple(
            RateSnapshot(
                ref=r.ref,
                rpm_limit=r.rpm,
                rpm_used=self._c.requests[(r.ref, window)],
                tpm_limit=r.tpm,
                tpm_used=self._c.tokens[(r.ref, window)],
                window_reset_s=reset_s,
            )
            for r in rates
        )

    def _reclaim(self, now_s: float) -> None:
        """Free reservations whose lease ended (their settle may still come and add spend). A pass over
        the open reservations runs only once the earliest lease (or late-settle window) has ended."""
        if now_s < self._next_reclaim:
            return
        upcoming = now_s + _LATE_SETTLE_S
        for rid, entry in list(self._open.items()):
            if not entry.expired and entry.deadline <= now_s:
                self._free(entry)
                entry.expired = True
            elif entry.expired and entry.deadline + _LATE_SETTLE_S <= now_s:
                del self._open[rid]  # as in Redis: a settle later than a day after the lease is dropped
                continue
            upcoming = min(upcoming, entry.deadline + _LATE_SETTLE_S if entry.expired else entry.deadline)
        self._next_reclaim = upcoming

    def _free(self, entry: _Open) -> None:
        for ref in entry.budgets:
            self._c.reserved[ref] -= entry.amount
        for ref in entry.rates:
            self._c.parallel[ref] -= 1

    async def settle(self, reservation_id: str, actual_nano: int, tokens: int, now_s: float) -> bool:
        """See ``BudgetBackend.settle``."""
        entry = self._open.pop(reservation_id, None)
        if entry is None:
            return False
        if not entry.expired:
            self._free(entry)
        for ref in dict.fromkeys(entry.budgets + entry.track):
            if ref in self._c.spend:
                self._c.spend[ref] += actual_nano
        window, _ = window_of(now_s)
        for ref in entry.rates:
            self._c.tokens[(ref, window)] += tokens
        self._drop_old_windows(window)
        return True

    async def release(self, reservation_id: str) -> bool:
        """See ``BudgetBackend.release``."""
        entry = self._open.pop(reservation_id, None)
        if entry is None:
            return False
        if not entry.expired:
            self._free(entry)
        return True

    def _drop_old_windows(self, window: int) -> None:
        for table in (self._c.requests, self._c.tokens):
            for key in [k for k in table if k[1] < window - 1]:
                del table[key]

    async def spend(self, ref: EntityRef) -> tuple[int, int]:
        """See ``BudgetBackend.spend``."""
        return self._c.spend.get(ref, 0), self._c.reserved.get(ref, 0)

    async def reset_spend(self, ref: EntityRef, spend_nano: int = 0) -> None:
        """See ``BudgetBackend.reset_spend``."""
        self._c.spend[ref] = spend_nano

    async def mark_once(self, key: str, ttl_s: float) -> bool:
        """See ``BudgetBackend.mark_once``."""
        now = time.monotonic()
        until = self._marks.get(key)
        if until is not None and until > now:
            return False
        self._marks[key] = now + ttl_s
        return True

    async def close(self) -> None:
        """Nothing to release."""
