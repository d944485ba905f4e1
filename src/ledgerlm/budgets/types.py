"""The budgets vocabulary: entities, their limits, an admission plan, its outcome and a reservation.

::

    EntityLimits (who + limits) --plan--> AdmitPlan (nano-USD amount, budget and rate checks)
        --backend.admit--> AdmitResult (ok, or the first check that failed) --> Reservation

Money in plans and results is integer nano-USD (``ledgerlm.budgets.money``); ``Decimal`` USD elsewhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, NamedTuple

__all__ = [
    "AdmitOutcome",
    "AdmitPlan",
    "AdmitResult",
    "BudgetCheck",
    "EntityKind",
    "EntityLimits",
    "EntityRef",
    "RateCheck",
    "RateSnapshot",
    "SpendLoader",
]

EntityKind = Literal["key", "user", "team", "team_member", "end_user", "tag", "global", "deployment"]
AdmitOutcome = Literal["ok", "budget", "rpm", "tpm", "parallel"]

_LABELS: dict[str, str] = {
    "key": "key",
    "user": "user",
    "team": "team",
    "team_member": "team member",
    "end_user": "end user",
    "tag": "tag",
    "global": "proxy (global budget)",
    "deployment": "deployment",
}


class EntityRef(NamedTuple):
    """One budgeted entity: ``kind`` and its id (key: the key's SHA-256 hash or alias-free token id).

    A named tuple, not a dataclass: it keys every budget and rate counter, and a tuple hashes and
    compares in C (a frozen dataclass runs a Python ``__hash__`` per look-up; issue 22)."""

    kind: EntityKind
    id: str

    @property
    def label(self) -> str:
        """Human form for messages, e.g. ``team 'team-a'``; never contains a secret."""
        if self.kind == "global":
            return _LABELS["global"]
        shown = self.id if self.kind != "key" else self.id[:12] + "..." if len(self.id) > 16 else self.id
        return f"{_LABELS[self.kind]} {shown!r}"

    @property
    def slug(self) -> str:
        """``kind:id``: the part of a counter name that identifies the entity."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class EntityLimits:
    """An entity with the limits that apply to it (``None``: no such limit).

    * ``max_budget`` / ``soft_budget``: USD per budget period (``soft_budget`` only alerts).
    * ``budget_duration``: ``"30d"`` ... (see ``durations``); ``budget_reset_at``: end of the period.
    * ``rpm_limit``: requests per minute; ``tpm_limit``: tokens (input + output) per minute;
      ``max_parallel_requests``: requests in flight at once.
    * ``alias``: a human name for messages (``key_alias``, ``team_alias`` ...), never a secret.
    * ``blocked``: the entity may not make calls (an end user created with ``blocked: true``).
    """

    ref: EntityRef
    max_budget: Decimal | None = None
    soft_budget: Decimal | None = None
    budget_duration: str | None = None
    budget_reset_at: datetime | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None
    alias: str | None = None
    blocked: bool = False

    @property
    def name(self) -> str:
        """The entity for messages: its label, plus its alias when it has one (``key_alias`` ...)."""
        return f"{self.ref.label} (alias {self.alias!r})" if self.alias else self.ref.label

    @property
    def has_budget(self) -> bool:
        """True when a hard budget (``max_budget``) applies."""
        return self.max_budget is not None

    @property
    def has_rate_limit(self) -> bool:
        """True when any of rpm / tpm / parallel limits applies."""
        return any(v is not None for v in (self.rpm_limit, self.tpm_limit, self.max_parallel_requests))

    @property
    def alerts_apply(self) -> bool:
        """True when the entity has a hard or a soft budget (alerts may fire)."""
        return self.max_budget is not None or self.soft_budget is not None


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """Reserve against ``ref`` only if ``spend + reserved + amount <= limit_nano`` (nano-USD).

    ``period`` names the budget period (the entity's ``budget_reset_at``, ISO; ``""`` without one): a
    counter kept for another period is reloaded from the database first (a reset made elsewhere).
    """

    ref: EntityRef
    limit_nano: int
    period: str = ""


@dataclass(frozen=True, slots=True)
class RateCheck:
    """Rate limits of ``ref``: requests/minute, tokens/minute, in flight (``None``: unlimited)."""

    ref: EntityRef
    rpm: int | None = None
    tpm: int | None = None
    parallel: int | None = None


@dataclass(frozen=True, slots=True)
class AdmitPlan:
    """What one admission asks of a backend, all or nothing.

    ``reservation_id`` is unique per admission (not the client's request id); ``amount_nano`` is the
    worst-case cost in nano-USD reserved against every budget check; ``lease_s`` (seconds) after which
    an unsettled reservation (a crashed instance) is reclaimed; ``track`` lists entities whose settled
    spend is counted although they have no hard budget (soft budgets, for alerts).
    """

    reservation_id: str
    amount_nano: int
    budgets: tuple[BudgetCheck, ...] = ()
    rates: tuple[RateCheck, ...] = ()
    track: tuple[EntityRef, ...] = ()
    lease_s: float = 600.0


@dataclass(frozen=True, slots=True)
class RateSnapshot:
    """Counts after an admission for one rate-limited entity (for ``x-ratelimit-*`` headers).

    ``window_reset_s``: seconds until the current one-minute window ends.
    """

    ref: EntityRef
    rpm_limit: int | None
    rpm_used: int
    tpm_limit: int | None
    tpm_used: int
    window_reset_s: float


@dataclass(frozen=True, slots=True)
class AdmitResult:
    """A backend's answer. ``outcome`` ``"ok"`` or the kind of the first failed check.

    On failure: ``ref`` names the entity, ``limit`` its limit (nano-USD for budgets, a count for rate
    limits), ``spend_nano`` / ``reserved_nano`` its settled spend and open reservations, ``count`` the
    rate counter. ``rates`` holds snapshots for headers (on success and on rate failures).
    """

    outcome: AdmitOutcome
    ref: EntityRef | None = None
    limit: int = 0
    spend_nano: int = 0
    reserved_nano: int = 0
    count: int = 0
    rates: tuple[RateSnapshot, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


SpendLoader = Callable[[Sequence[EntityRef]], Awaitable[Mapping[EntityRef, Decimal]]]
"""Loads each entity's settled spend in its current period (USD) from the database; missing: 0."""


async def zero_spend(refs: Sequence[EntityRef]) -> Mapping[EntityRef, Decimal]:
    """A ``SpendLoader`` for deployments without a database: every entity starts at $0."""
    return {ref: Decimal(0) for ref in refs}
