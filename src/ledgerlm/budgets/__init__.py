"""Budgets and rate limits that hold under concurrency, on one proxy instance or many.

Admission by reservation (``reservations.Budgets``) over atomic counters: ``memory.MemoryBudgets`` (one
instance) or ``redis_backend.RedisBudgets`` (Lua scripts shared by every instance). Durations and reset
times in ``durations``; worst-case request size in ``estimate``; OpenAI rate-limit headers in
``headers``. Importing this package does nothing else (no I/O).
"""

from __future__ import annotations

from ledgerlm.budgets.durations import Duration, next_reset, parse_duration
from ledgerlm.budgets.estimate import Estimate, EstimateSettings, estimate_request
from ledgerlm.budgets.memory import MemoryBudgets
from ledgerlm.budgets.money import from_nano, to_nano
from ledgerlm.budgets.redis_backend import RedisBudgets
from ledgerlm.budgets.reservations import Budgets, BudgetSettings, Reservation
from ledgerlm.budgets.types import EntityLimits, EntityRef

__all__ = [
    "BudgetSettings",
    "Budgets",
    "Duration",
    "EntityLimits",
    "EntityRef",
    "Estimate",
    "EstimateSettings",
    "MemoryBudgets",
    "RedisBudgets",
    "Reservation",
    "estimate_request",
    "from_nano",
    "next_reset",
    "parse_duration",
    "to_nano",
]
