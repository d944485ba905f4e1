"""The proxy's daily reconciliation: pull each provider's admin reports, reconcile, store, gauge, alert.

Config (``reconcile_settings`` in the proxy config; OFF unless a provider has an admin key)::

    reconcile_settings:
      providers:
        - provider: openai                       # openai | anthropic | openrouter
          admin_key: os.environ/OPENAI_ADMIN_KEY # the job is off without one
          api_base: https://api.openai.com       # optional (the simulator in tests)
      tolerance: 0.01          # allowed drift, a fraction of the provider's bill
      days: 1                  # each run reconciles the last N full UTC days (ending yesterday)
      interval_s: 86400        # between runs
      first_run_delay_s: 60    # after start-up
      webhook_urls: []         # alert channels; default: budget_settings.alerts (webhook + Slack)
      slack_webhook_urls: []

Each run is stored (``reconcile_runs``, ``GET /reconcile/runs``), sets the Prometheus gauge
``ledgerlm_capture_rate{provider}``, and when the drift passes the tolerance posts an alert: the JSON
event ``{"type": "reconcile_drift", ...}`` to each webhook and ``{"text": ...}`` to each Slack webhook.
A failing pull or delivery is logged and counted (``failures``); it never stops the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.errors import ConfigError
from ledgerlm.ledger.reconcile.model import ReconcileResult
from ledgerlm.ledger.reconcile.pull import PullRequest
from ledgerlm.ledger.reconcile.runs import insert_run
from ledgerlm.ledger.reconcile.service import ReconcileJob, accounts_from_config, run
from ledgerlm.proxy.config import ProxyConfig, format_path

__all__ = ["ReconcileScheduler", "ReconcileSettings", "build_scheduler", "drift_event"]

log = logging.getLogger("ledgerlm.reconcile")


class ProviderSettings(BaseModel):
    """One provider the job reconciles."""

    model_config = ConfigDict(extra="forbid")
    provider: str = Field(pattern="^(openai|anthropic|openrouter)$")
    admin_key: str | None = None
    api_base: str | None = None


class ReconcileSettings(BaseModel):
    """``reconcile_settings`` (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    providers: list[ProviderSettings] = Field(default_factory=list)
    tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)
    days: int = Field(default=1, ge=1, le=31)
    interval_s: float = Field(default=86400.0, gt=0)
    first_run_delay_s: float = Field(default=60.0, ge=0)
    timeout_s: float = Field(default=60.0, gt=0)
    webhook_urls: list[str] = Field(default_factory=list)
    slack_webhook_urls: list[str] = Field(default_factory=list)


def drift_event(result: ReconcileResult, run_id: str) -> dict[str, Any]:
    """The webhook event of a run beyond tolerance (amounts as decimal strings)."""
    rate = result.capture_rate
    message = (
        f"ledgerlm reconciliation drift: {result.provider} {result.start}..{result.end}: ledger "
        f"${result.ledger_usd} vs provider ${result.provider_usd} (capture rate "
        f"{'n/a' if rate is None else format(rate, '.6f')}, tolerance {result.tolerance}); run {run_id}"
    )
    return {
        "type": "reconcile_drift",
        "provider": result.provider,
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "ledger_usd": format(result.ledger_usd, "f"),
        "provider_usd": format(result.provider_usd, "f"),
        "capture_rate": None if rate is None else format(rate, "f"),
        "tolerance": format(result.tolerance, "f"),
        "run_id": run_id,
        "explanations": {k: v for k, v in result.counts().items() if v},
        "message": message,
    }


@dataclass
class ReconcileScheduler:
    """Runs ``run_once`` every ``interval_s`` while started; ``active`` only with an admin key."""

    settings: ReconcileSettings
    engine: Callable[[], AsyncEngine]
    accounts: dict[str, str] = field(default_factory=dict)
    failures: int = 0
    alerts_sent: int = 0
    _task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        """True when enabled and at least one provider has an admin key."""
        return self.settings.enabled and any(p.admin_key for p in self.settings.providers)

    def window(self, today: date | None = None) -> tuple[date, date]:
        """The inclusive UTC days of a run on ``today``: the last ``days`` full days."""
        today = today or datetime.now(UTC).date()
        return today - timedelta(days=self.settings.days), today - timedelta(days=1)

    async def run_once(self, today: date | None = None) -> list[tuple[str, ReconcileResult]]:
        """Reconcile every provider with a key for ``window(today)``; returns ``(run id, result)``."""
        start, end = self.window(today)
        out = []
        for provider in self.settings.providers:
            if not provider.admin_key:
                continue
            try:
                out.append(await self._one(provider, start, end))
            except Exception as exc:  # a provider outage must not stop the others or the proxy
                self.failures += 1
                log.warning("reconciliation of %s failed: %s", provider.provider, exc)
        return out

    async def _one(self, provider: ProviderSettings, start: date, end: date) -> tuple[str, ReconcileResult]:
        from ledgerlm.integrations import prometheus

        assert provider.admin_key is not None
        pull = PullRequest(
            provider.provider, start, end, provider.admin_key, provider.api_base,
            bool(self.accounts), self.settings.timeout_s,
        )  # fmt: skip
        job = ReconcileJob(provider.provider, start, end, (), pull, self.settings.tolerance, self.accounts)
        result = await run(job, self.engine())
        run_id = await insert_run(self.engine(), result)
        prometheus.set_capture_rate(result.provider, result.capture_rate)
        if not result.within_tolerance:
            await self._alert(drift_event(result, run_id))
        return run_id, result

    async def _alert(self, event: dict[str, Any]) -> None:
        posts = [(url, event) for url in self.settings.webhook_urls]
        posts += [(url, {"text": event["message"]}) for url in self.settings.slack_webhook_urls]
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for url, body in posts:
                try:
                    async with session.post(url, json=body) as response:
                        response.raise_for_status()
                    self.alerts_sent += 1
                except Exception as exc:  # delivery never raises
                    self.failures += 1
                    log.warning("reconcile alert to %s failed: %s", url.split("/")[2:3], exc)

    async def _loop(self) -> None:
        await asyncio.sleep(self.settings.first_run_delay_s)
        while True:
            await self.run_once()
            await asyncio.sleep(self.settings.interval_s)

    async def start(self) -> None:
        """Start the periodic task (no-op when not ``active``)."""
        if self.active and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Cancel the periodic task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def build_scheduler(config: ProxyConfig, engine: Callable[[], AsyncEngine]) -> ReconcileScheduler:
    """The scheduler of ``config.reconcile_settings``; alert URLs default to the budget alerts'.
    Raises ``ConfigError`` naming a bad field."""
    raw = dict(getattr(config, "reconcile_settings", None) or {})
    try:
        settings = ReconcileSettings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = format_path(("reconcile_settings", *first.get("loc", ())))
        raise ConfigError(str(first.get("msg", "invalid value")), path=path) from None
    if not settings.webhook_urls and not settings.slack_webhook_urls:
        alerts = (getattr(config, "budget_settings", None) or {}).get("alerts") or {}
        settings = settings.model_copy(
            update={
                "webhook_urls": list(alerts.get("webhook_urls") or []),
                "slack_webhook_urls": list(alerts.get("slack_webhook_urls") or []),
            }
        )
    return ReconcileScheduler(settings, engine, accounts_from_config(config.model_list))
