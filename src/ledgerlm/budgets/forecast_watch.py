"""The forecast loop: every ``interval_s``, a burn-rate forecast for every budget.

Each check (``check_once``) reads the teams, keys, internal users and end users that have a
``max_budget`` (at most ``max_entities`` of each kind; a budget tier's limits sit on its holders' rows),
forecasts each one (``ledgerlm.budgets.forecast``), sets the Prometheus gauge
``ledgerlm_budget_forecast_runs_out_timestamp_seconds{scope, name}`` (teams always, by alias; keys, users
and end users only when allow-listed, like ``budget_remaining_usd``) and alerts through the channels when
the budget runs out before its reset, once per entity and budget period (de-duplication key
``forecast|<kind>|<id>|<budget_reset_at>``: in the process, and through ``mark_once`` (the budget
backend's: Redis ``SET NX`` when configured) across instances, until the reset). Never raises out of the
loop: a failed check is logged.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.budgets.alert_channels import AlertChannel
from ledgerlm.budgets.forecast import KINDS, BudgetForecast, forecast_row
from ledgerlm.ticker import Ticker

__all__ = ["ForecastWatcher"]

log = logging.getLogger("ledgerlm.budgets")

MarkOnce = Callable[[str, float], Awaitable[bool]]
_UNRESET_TTL_S = 31 * 86400.0  # a budget without a reset date: re-alerted at most monthly


async def _budgeted(engine: AsyncEngine, kind: str, limit: int) -> list[dict[str, Any]]:
    from ledgerlm.store.tables import end_users, teams, users, verification_tokens

    table = {"key": verification_tokens, "team": teams, "user": users, "end_user": end_users}[kind]
    statement = sa.select(table).where(table.c.max_budget.is_not(None)).limit(limit)
    async with engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(statement)]


def _set_gauge(forecast: BudgetForecast) -> None:
    try:
        from ledgerlm.integrations import prometheus
    except ImportError:  # pragma: no cover - prometheus-client is a dependency
        return
    name = forecast.entity_label if forecast.entity_kind == "team" else forecast.entity_id  # ids: allow-list
    runs_out = forecast.runs_out_at.timestamp() if forecast.runs_out_at else None
    prometheus.set_budget_forecast(forecast.entity_kind, name, runs_out)


class ForecastWatcher:
    """Periodic budget forecasts and their alerts (module docstring)."""

    def __init__(
        self,
        engine: Callable[[], AsyncEngine],
        channels: Sequence[AlertChannel],
        *,
        window_hours: int = 24,
        interval_s: float = 300.0,
        max_entities: int = 10_000,
        mark_once: MarkOnce | None = None,
    ) -> None:
        self._engine = engine
        self.channels = list(channels)
        self.window_hours = window_hours
        self.interval_s = interval_s
        self.max_entities = max_entities
        self.mark_once = mark_once
        self.alerted: list[BudgetForecast] = []
        self.latest: dict[tuple[str, str], BudgetForecast] = {}  # (kind, id) -> the last forecast
        self.checks = 0  # completed checks
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._ticker = Ticker("budget-forecast", interval_s, self.check_once, logger=log)

    async def check_once(self, now: datetime | None = None) -> list[BudgetForecast]:
        """Forecast every budgeted team, key, user and end user; returns the forecasts that alerted now."""
        now = now or datetime.now(UTC)
        engine = self._engine()
        fired: list[BudgetForecast] = []
        for kind in KINDS:
            for row in await _budgeted(engine, kind, self.max_entities):
                forecast = await forecast_row(engine, kind, row, window_hours=self.window_hours, now=now)
                if forecast is None:
                    continue
                _set_gauge(forecast)
                self._keep(forecast)
                if forecast.before_reset and await self._first(forecast, now):
                    self._deliver(forecast)
                    fired.append(forecast)
        self.checks += 1
        return fired

    def _keep(self, forecast: BudgetForecast) -> None:
        """Remember the latest forecast of each budget (bounded: ``len(KINDS) * max_entities``)."""
        key = (forecast.entity_kind, forecast.entity_id)
        self.latest.pop(key, None)
        self.latest[key] = forecast
        while len(self.latest) > len(KINDS) * self.max_entities:
            del self.latest[next(iter(self.latest))]

    async def _first(self, forecast: BudgetForecast, now: datetime) -> bool:
        """True the first time this budget period's alert is due (here and across instances)."""
        reset = forecast.budget_reset_at.isoformat() if forecast.budget_reset_at else "none"
        key = f"forecast|{forecast.entity_kind}|{forecast.entity_id}|{reset}"
        if key in self._sent:
            return False
        self._sent[key] = None
        while len(self._sent) > 4 * self.max_entities:
            self._sent.popitem(last=False)
        if self.mark_once is None:
            return True
        ttl = _UNRESET_TTL_S
        if forecast.budget_reset_at is not None:
            ttl = max(3600.0, (forecast.budget_reset_at - now).total_seconds() + 3600.0)
        try:
            return await self.mark_once(key, ttl)
        except Exception as exc:  # Redis away: deliver rather than lose the alert
            log.warning("budget forecast de-duplication unavailable (%s); delivering", exc)
            return True

    def _deliver(self, forecast: BudgetForecast) -> None:
        text = f"ledgerlm budget forecast: {forecast.text()}"
        payload = {
            "type": "budget_forecast",
            "entity_kind": forecast.entity_kind,
            "entity_id": forecast.entity_id,
            **{
                k: str(v) if not isinstance(v, bool | int | str | None) else v
                for k, v in forecast.to_json().items()
            },
            "message": text,
        }
        reset = forecast.budget_reset_at.isoformat() if forecast.budget_reset_at else "none"
        self.alerted = [*self.alerted[-99:], forecast]
        log.warning("%s", text)
        for channel in self.channels:
            try:
                channel.deliver(
                    text, payload, f"forecast|{forecast.entity_kind}|{forecast.entity_id}|{reset}"
                )
            except Exception:
                log.exception("budget forecast channel %s failed", type(channel).__name__)

    async def start(self) -> None:
        """Start the loop (idempotent)."""
        self._ticker.start()

    async def stop(self) -> None:
        """Stop the loop."""
        await self._ticker.stop()
