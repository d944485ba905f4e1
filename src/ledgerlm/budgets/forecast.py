"""Burn-rate forecasts: when a budget runs out at its recent spend rate.

``forecast_budget`` is pure: with ``spend`` (USD spent in the budget period), ``max_budget`` (USD), the
USD spent in the last ``window_hours`` and the period's reset time, the rate is
``window_spend / window_hours`` USD per hour and the budget runs out at
``now + (max_budget - spend) / rate`` (``now`` when already exhausted; never when the rate is zero).
``before_reset`` is true when that moment comes before ``budget_reset_at`` (or there is no reset): the
forecast worth an alert. Amounts stay ``Decimal``; the text reads::

    at the last 24 h rate ($1.25/h), team Search's budget ($100) runs out on 2026-12-19 (resets 2027-01-01)

``window_spend`` reads the spend log (``spend_logs``: priced rows of the entity since ``now - window``;
unpriced rows count $0, as budgets do). Entities: keys, teams, internal users and end users (a budget
tier's limits are copied onto its holders' rows, so a tier is forecast per holder). Sources: the
``/key/info``, ``/team/info``, ``/user/info`` and ``/customer/info`` budget fields (LiteLLM's ``spend``,
``max_budget``, ``budget_reset_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["KINDS", "BudgetForecast", "forecast_budget", "forecast_row", "window_spend"]

_COLUMNS = {"key": "api_key", "team": "team_id", "user": "user", "end_user": "end_user"}
_IDS = {"key": "token", "team": "team_id", "user": "user_id", "end_user": "user_id"}
_LABELS = {"key": "key_alias", "team": "team_alias", "user": "user_alias", "end_user": "alias"}
KINDS: tuple[str, ...] = ("team", "key", "user", "end_user")
"""Every entity kind with a budget that is forecast."""


@dataclass(frozen=True, slots=True)
class BudgetForecast:
    """One budget's forecast. Money in USD; ``rate_per_hour`` USD/h; times UTC."""

    entity_kind: str
    entity_id: str
    entity_label: str
    spend: Decimal
    max_budget: Decimal
    window_hours: int
    window_spend: Decimal
    rate_per_hour: Decimal
    runs_out_at: datetime | None
    budget_reset_at: datetime | None

    @property
    def before_reset(self) -> bool:
        """True when the budget runs out before its next reset (or it never resets)."""
        if self.runs_out_at is None:
            return False
        return self.budget_reset_at is None or self.runs_out_at < self.budget_reset_at

    def text(self) -> str:
        """One human line, e.g. "at the last 24 h rate, team Search's budget runs out on 2026-12-19"."""
        who = f"{self.entity_kind.replace('_', ' ')} {self.entity_label}"
        rate = f"${_rate(self.rate_per_hour)}/h"
        head = f"at the last {self.window_hours} h rate ({rate}), {who}'s budget (${_usd(self.max_budget)})"
        reset = f" (resets {self.budget_reset_at.date().isoformat()})" if self.budget_reset_at else ""
        if self.runs_out_at is None:
            return f"{head} does not run out{reset}"
        if self.spend >= self.max_budget:
            return f"{head} has run out (spend ${_usd(self.spend)}){reset}"
        return f"{head} runs out on {self.runs_out_at.date().isoformat()}{reset}"

    def to_json(self) -> dict[str, Any]:
        """The API field: amounts as ``Decimal`` (JSON numbers at the edge), times ISO 8601 UTC."""
        return {
            "window_hours": self.window_hours,
            "window_spend": self.window_spend,
            "burn_rate_per_hour": self.rate_per_hour,
            "runs_out_at": self.runs_out_at.isoformat() if self.runs_out_at else None,
            "budget_reset_at": self.budget_reset_at.isoformat() if self.budget_reset_at else None,
            "runs_out_before_reset": self.before_reset,
            "message": self.text(),
        }


def _usd(amount: Decimal) -> str:
    """``Decimal`` USD without trailing zeros (``100``, ``12.5``)."""
    text = format(amount.normalize(), "f")
    return text


def _rate(usd_per_hour: Decimal) -> str:
    """USD/h to 4 decimals; a smaller non-zero rate to 2 significant digits (``0.0000031``)."""
    fixed = usd_per_hour.quantize(Decimal("0.0001"))
    if fixed or not usd_per_hour:
        return str(fixed)
    return format(usd_per_hour.quantize(Decimal(1).scaleb(usd_per_hour.adjusted() - 1)), "f")


def forecast_budget(
    entity: tuple[str, str, str],
    budget: tuple[Decimal, Decimal, datetime | None],
    window: tuple[int, Decimal],
    now: datetime,
) -> BudgetForecast:
    """Forecast of ``entity`` = (kind, id, label) with ``budget`` = (spend, max_budget, reset_at) and
    ``window`` = (hours, USD spent in them), at ``now`` (UTC)."""
    kind, ident, label = entity
    spend, max_budget, reset_at = budget
    hours, spent = window
    rate = spent / hours if hours > 0 else Decimal(0)
    remaining = max_budget - spend
    runs_out: datetime | None = None
    if remaining <= 0:
        runs_out = now
    elif rate > 0:
        runs_out = now + timedelta(hours=float(remaining / rate))
    return BudgetForecast(kind, ident, label, spend, max_budget, hours, spent, rate, runs_out, reset_at)


async def window_spend(engine: AsyncEngine, kind: str, ident: str, since: datetime) -> Decimal:
    """USD the entity spent since ``since`` (spend log; unpriced rows count $0). Raises ``KeyError``
    for a kind without a spend-log column."""
    from ledgerlm.store.tables import spend_logs

    column = spend_logs.c[_COLUMNS[kind]]
    statement = sa.select(sa.func.coalesce(sa.func.sum(spend_logs.c.spend), 0)).where(
        column == ident, spend_logs.c.startTime >= since
    )
    async with engine.connect() as conn:
        value = (await conn.execute(statement)).scalar_one()
    return Decimal(str(value))


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


async def forecast_row(
    engine: AsyncEngine,
    kind: str,
    row: dict[str, Any],
    *,
    window_hours: int = 24,
    now: datetime | None = None,
) -> BudgetForecast | None:
    """The forecast of a key/team/user/end-user row (its ``max_budget``, ``spend``, ``budget_reset_at``);
    ``None`` without a ``max_budget``. ``row`` ids: ``token`` (key hash), ``team_id``, ``user_id`` (users
    and end users); labels: ``key_alias``, ``team_alias``, ``user_alias``, ``alias`` (end users)."""
    if row.get("max_budget") is None:
        return None
    ident = str(row.get(_IDS[kind]))
    label = str(row.get(_LABELS[kind]) or ident)
    now = now or datetime.now(UTC)
    spent = await window_spend(engine, kind, ident, now - timedelta(hours=window_hours))
    budget = (
        Decimal(str(row.get("spend") or 0)),
        Decimal(str(row["max_budget"])),
        _utc(row.get("budget_reset_at")),
    )
    return forecast_budget((kind, ident, label), budget, (window_hours, spent), now)
