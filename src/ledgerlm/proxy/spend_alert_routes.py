"""Spend alerts in the proxy: the ``spend_alerts`` config block, the admin routes, the forecast field.

Config (top level of the proxy config; absent: no baseline alerts, forecasts still shown)::

    spend_alerts:
      channels: [slack, webhook, sentry]    # default: general_settings.alerting
      webhook_url: https://hooks.example/ledgerlm
      window_hours: 24                      # baseline and forecast window
      max_series: 10000                     # cardinality bound of the baselines
      forecast_interval_s: 300              # how often every budget is forecast (0: never)
      throttle_sync_s: 1                    # with Redis: how often an instance reads the shared throttles
      rules: [...]                          # see ledgerlm.budgets.spend_alerts

Several instances: when Redis is configured (``general_settings.redis_url`` / ``$REDIS_URL``, keys under
``budget_settings.redis_prefix``), the baselines, the throttles and the alert de-duplication are shared
(``RedisBaseline``, ``RedisThrottleStore``, ``RedisMarks``; forecasts through the budget backend's
``mark_once``): a spike is alerted once for the fleet, a throttle set by one instance is enforced by all,
and an admin's clear on one instance clears it for all. Without Redis each instance keeps its own.

Routes (master key only):

* ``GET /alerts/throttles`` -> ``{"data": [{dimension, value, rpm, rule, reason, since}]}``;
* ``POST /alerts/throttle/clear`` ``{"dimension": "team", "value": "search"}`` ->
  ``{"cleared": true|false}`` (400 on a missing field or unknown dimension);
* ``GET /alerts/recent`` -> ``{"data": [alert JSON, newest last]}``.

``budget_forecast(state, kind, row)`` is the ``budget_forecast`` field that ``/key/info`` and
``/team/info`` add (``null`` without a ``max_budget``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.budgets.alert_channels import build_channels
from ledgerlm.budgets.baseline import HourlyBaseline
from ledgerlm.budgets.forecast import forecast_row
from ledgerlm.budgets.forecast_watch import ForecastWatcher
from ledgerlm.budgets.spend_alerts import DIMENSIONS, Baseline, Marks, SpendAlerts, parse_rules
from ledgerlm.budgets.throttle import Throttles
from ledgerlm.errors import BadRequestError, ConfigError
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.http import read_json_body
from ledgerlm.proxy.management import MAX_MANAGEMENT_BODY, managed
from ledgerlm.proxy.state import ProxyState

__all__ = [
    "SpendAlertSetup",
    "budget_forecast",
    "build_spend_alerts",
    "install",
    "latest_forecast",
    "routes",
    "start",
    "stop",
]


@dataclass(slots=True)
class SpendAlertSetup:
    """The detector (a per-call callback), its throttles and the forecast loop."""

    detector: SpendAlerts
    throttles: Throttles
    watcher: ForecastWatcher | None
    window_hours: int = 24


def build_spend_alerts(
    config: Any, engine: Any, redis_at: tuple[str, str] | None = None, mark_once: Any = None
) -> SpendAlertSetup | None:
    """From ``config.spend_alerts`` (see module docstring); ``None`` when absent.

    ``engine``: a callable returning the store's engine; ``redis_at``: ``(url, prefix)`` to share state
    across instances; ``mark_once``: the forecast alerts' async de-duplication. Raises ``ConfigError``
    naming a bad field."""
    raw: Mapping[str, Any] | None = getattr(config, "spend_alerts", None) or (
        getattr(config, "model_extra", None) or {}
    ).get("spend_alerts")
    if not raw:
        return None
    try:
        rules = parse_rules(raw.get("rules"))
        general = getattr(config.general_settings, "model_extra", None) or {}
        names = raw.get("channels") or general.get("alerting") or []
        env = {**os.environ, **{str(k): str(v) for k, v in (config.environment_variables or {}).items()}}
        channels = build_channels([str(n) for n in names], raw, env)
        window = int(raw.get("window_hours", 24))
        max_series = int(raw.get("max_series", 10_000))
        shared = _shared(redis_at, window, max_series, float(raw.get("throttle_sync_s", 1.0)))
        interval = float(raw.get("forecast_interval_s", 300))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"spend_alerts: {exc}") from None
    baseline, marks, throttles = shared or (HourlyBaseline(window, max_series), None, Throttles())
    detector = SpendAlerts(rules, channels=channels, throttles=throttles, baseline=baseline, marks=marks)
    watcher = (
        ForecastWatcher(engine, channels, window_hours=window, interval_s=interval, mark_once=mark_once)
        if interval > 0
        else None
    )
    return SpendAlertSetup(detector, throttles, watcher, window)


def _shared(
    redis_at: tuple[str, str] | None, window: int, max_series: int, sync_s: float
) -> tuple[Baseline, Marks, Throttles] | None:
    """Redis-backed baseline, marks and throttles (``None`` without Redis: per process)."""
    if redis_at is None:
        return None
    import redis

    from ledgerlm.budgets.baseline_redis import RedisBaseline, RedisMarks
    from ledgerlm.budgets.throttle_redis import RedisThrottleStore

    url, prefix = redis_at
    client = redis.Redis.from_url(url)
    throttles = Throttles(shared=RedisThrottleStore(url, prefix), sync_s=sync_s)
    return RedisBaseline(client, prefix, window, max_series), RedisMarks(client, prefix), throttles


def install(state: ProxyState) -> None:
    """Build the setup from ``state.config`` and plug it in: the detector joins the per-call
    callbacks, the throttles wrap the admission. Raises ``ConfigError``."""
    from ledgerlm.budgets.throttle import ThrottledAdmission

    if "spend_alerts" in state.extra:
        return
    budget_config = getattr(state.admission, "config", None)
    url = getattr(budget_config, "redis_url", None)
    prefix = getattr(budget_config, "redis_prefix", "{ledgerlm}")
    redis_at = (str(url), str(prefix)) if url else None

    async def mark_once(key: str, ttl_s: float) -> bool:
        backend = getattr(state.admission, "backend", None)
        return True if backend is None else bool(await backend.mark_once(key, ttl_s))

    setup = build_spend_alerts(state.config, lambda: state.store.engine, redis_at, mark_once)
    if setup is None:
        return
    state.extra["spend_alerts"] = setup
    state.callbacks.per_call.append(setup.detector)
    state.admission = ThrottledAdmission(state.admission, setup.throttles)


def _setup(state: ProxyState) -> SpendAlertSetup | None:
    setup = state.extra.get("spend_alerts")
    return setup if isinstance(setup, SpendAlertSetup) else None


async def budget_forecast(state: ProxyState, kind: str, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``budget_forecast`` field of a key or team row (``None`` without ``max_budget``)."""
    setup = _setup(state)
    window = setup.window_hours if setup is not None else 24
    forecast = await forecast_row(state.store.engine, kind, dict(row), window_hours=window)
    return forecast.to_json() if forecast is not None else None


def latest_forecast(state: ProxyState, kind: str, ident: str) -> dict[str, Any] | None:
    """The forecast loop's last forecast of a budget (``{runs_out_at, runs_out_before_reset, message}``),
    ``None`` before the first check or without the loop; no database read (the dashboard's budgets)."""
    setup = _setup(state)
    forecast = setup.watcher.latest.get((kind, ident)) if setup and setup.watcher else None
    if forecast is None:
        return None
    shown = forecast.to_json()
    return {name: shown[name] for name in ("runs_out_at", "runs_out_before_reset", "message")}


@managed()
async def throttles(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /alerts/throttles``."""
    setup = _setup(state)
    if setup is None:
        return {"data": []}
    with contextlib.suppress(Exception):  # Redis away: the last copy
        await setup.throttles.refresh()
    return {"data": setup.throttles.active()}


@managed()
async def clear_throttle(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /alerts/throttle/clear``."""
    body = await read_json_body(request, MAX_MANAGEMENT_BODY, forbid_nul=True)
    dimension, value = body.get("dimension"), body.get("value")
    if dimension not in DIMENSIONS:
        raise BadRequestError(f"dimension must be one of {', '.join(DIMENSIONS)}", param="dimension")
    if not isinstance(value, str) or not value:
        raise BadRequestError("value is required", param="value")
    setup = _setup(state)
    return {"cleared": bool(setup is not None and await setup.throttles.aclear((dimension, value)))}


@managed()
async def recent(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /alerts/recent``."""
    setup = _setup(state)
    return {"data": [a.to_json() for a in setup.detector.fired] if setup is not None else []}


async def start(state: ProxyState) -> None:
    """Start the forecast loop (after the store started)."""
    setup = _setup(state)
    if setup is not None:
        await setup.throttles.start()
    if setup is not None and setup.watcher is not None:
        await setup.watcher.start()


async def stop(state: ProxyState) -> None:
    """Stop the forecast loop."""
    setup = _setup(state)
    if setup is not None and setup.watcher is not None:
        await setup.watcher.stop()
    if setup is not None:
        await setup.throttles.stop()
        close = getattr(setup.detector.baseline, "close", None)  # RedisBaseline's client
        if close is not None:
            close()


def routes() -> list[Route]:
    """The admin routes (master key only, via ``managed()``)."""
    return [
        Route("/alerts/throttles", throttles, methods=["GET"]),
        Route("/alerts/throttle/clear", clear_throttle, methods=["POST"]),
        Route("/alerts/recent", recent, methods=["GET"]),
    ]
