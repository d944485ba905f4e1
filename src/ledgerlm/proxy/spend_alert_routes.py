"""Spend alerts in the proxy: the ``spend_alerts`` config block, the admin routes, the forecast field.

Config (top level of the proxy config; absent: no baseline alerts, forecasts still shown)::

    spend_alerts:
      channels: [slack, webhook, sentry]    # default: general_settings.alerting
      webhook_url: https://hooks.example/ledgerlm
      window_hours: 24                      # baseline and forecast window
      max_series: 10000                     # cardinality bound of the baselines
      forecast_interval_s: 300              # how often every budget is forecast (0: never)
      rules: [...]                          # see ledgerlm.budgets.spend_alerts

Routes (master key only):

* ``GET /alerts/throttles`` -> ``{"data": [{dimension, value, rpm, rule, reason, since}]}``;
* ``POST /alerts/throttle/clear`` ``{"dimension": "team", "value": "search"}`` ->
  ``{"cleared": true|false}`` (400 on a missing field or unknown dimension);
* ``GET /alerts/recent`` -> ``{"data": [alert JSON, newest last]}``.

``budget_forecast(state, kind, row)`` is the ``budget_forecast`` field that ``/key/info`` and
``/team/info`` add (``null`` without a ``max_budget``).
"""

from __future__ import annotations

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
from ledgerlm.budgets.spend_alerts import DIMENSIONS, SpendAlerts, parse_rules
from ledgerlm.budgets.throttle import Throttles
from ledgerlm.errors import BadRequestError, ConfigError
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.http import read_json_body
from ledgerlm.proxy.management import MAX_MANAGEMENT_BODY, managed
from ledgerlm.proxy.state import ProxyState

__all__ = ["SpendAlertSetup", "budget_forecast", "build_spend_alerts", "install", "routes", "start", "stop"]


@dataclass(slots=True)
class SpendAlertSetup:
    """The detector (a per-call callback), its throttles and the forecast loop."""

    detector: SpendAlerts
    throttles: Throttles
    watcher: ForecastWatcher | None
    window_hours: int = 24


def build_spend_alerts(config: Any, engine: Any) -> SpendAlertSetup | None:
    """From ``config.spend_alerts`` (see module docstring); ``None`` when absent.

    ``engine``: a callable returning the store's engine. Raises ``ConfigError`` naming a bad field."""
    raw: Mapping[str, Any] | None = (getattr(config, "model_extra", None) or {}).get("spend_alerts")
    if not raw:
        return None
    try:
        rules = parse_rules(raw.get("rules"))
        general = getattr(config.general_settings, "model_extra", None) or {}
        names = raw.get("channels") or general.get("alerting") or []
        env = {**os.environ, **{str(k): str(v) for k, v in (config.environment_variables or {}).items()}}
        channels = build_channels([str(n) for n in names], raw, env)
        window = int(raw.get("window_hours", 24))
        baseline = HourlyBaseline(window_hours=window, max_series=int(raw.get("max_series", 10_000)))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"spend_alerts: {exc}") from None
    throttles = Throttles()
    detector = SpendAlerts(rules, channels=channels, throttles=throttles, baseline=baseline)
    interval = float(raw.get("forecast_interval_s", 300))
    watcher = (
        ForecastWatcher(engine, channels, window_hours=window, interval_s=interval) if interval > 0 else None
    )
    return SpendAlertSetup(detector, throttles, watcher, window)


def install(state: ProxyState) -> None:
    """Build the setup from ``state.config`` and plug it in: the detector joins the per-call
    callbacks, the throttles wrap the admission. Raises ``ConfigError``."""
    from ledgerlm.budgets.throttle import ThrottledAdmission

    if "spend_alerts" in state.extra:
        return
    setup = build_spend_alerts(state.config, lambda: state.store.engine)
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


@managed()
async def throttles(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /alerts/throttles``."""
    setup = _setup(state)
    return {"data": setup.throttles.active() if setup is not None else []}


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
    return {"cleared": bool(setup is not None and setup.throttles.clear((dimension, value)))}


@managed()
async def recent(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /alerts/recent``."""
    setup = _setup(state)
    return {"data": [a.to_json() for a in setup.detector.fired] if setup is not None else []}


async def start(state: ProxyState) -> None:
    """Start the forecast loop (after the store started)."""
    setup = _setup(state)
    if setup is not None and setup.watcher is not None:
        await setup.watcher.start()


async def stop(state: ProxyState) -> None:
    """Stop the forecast loop."""
    setup = _setup(state)
    if setup is not None and setup.watcher is not None:
        await setup.watcher.stop()


def routes() -> list[Route]:
    """The admin routes (master key only, via ``managed()``)."""
    return [
        Route("/alerts/throttles", throttles, methods=["GET"]),
        Route("/alerts/throttle/clear", clear_throttle, methods=["POST"]),
        Route("/alerts/recent", recent, methods=["GET"]),
    ]
