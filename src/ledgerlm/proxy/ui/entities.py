"""Dashboard tables of keys, teams, users, end users, budgets, models, and the pages of other features.

Reads (``GET``): ``/ui/api/keys``, ``/ui/api/teams``, ``/ui/api/users``, ``/ui/api/end_users``,
``/ui/api/budgets`` (every visible key, team, user and end user with a ``max_budget``: used vs limit,
the reset date, and ``forecast``: the forecast loop's last burn-rate forecast or ``null``; model groups
are in ``models_page``),
``/ui/api/feature?name=reconcile_runs|reconcile_run&run_id=|tag_drift`` (``GET /reconcile/runs``,
``GET /reconcile/runs/{id}`` and ``GET /tags/drift`` when this proxy has them, else
``{"available": false}``). Each returns ``{"data": [...]}``, narrowed
to what the role may read (``roles.visible``); admin-only pages answer 403 to other roles.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.ui.guard import ui_handler
from ledgerlm.proxy.ui.internal import call_route, has_route
from ledgerlm.proxy.ui.roles import visible
from ledgerlm.proxy.ui.session import Principal

__all__ = ["FEATURES", "routes", "visible_keys", "visible_teams"]

LIMIT = 1000
FORECAST_LIMIT = 200  # budget forecasts per page (one small query each)
logger = logging.getLogger(__name__)
FEATURES = {
    "reconcile_runs": "/reconcile/runs",
    "reconcile_run": "/reconcile/runs/{run_id}",
    "tag_drift": "/tags/drift",
}
_FEATURE_PARAMS = ("start_date", "end_date", "dimension", "provider")
_KEY_FIELDS = (
    "token",
    "key_alias",
    "key_name",
    "team_id",
    "user_id",
    "models",
    "spend",
    "max_budget",
    "budget_duration",
    "budget_reset_at",
    "tpm_limit",
    "rpm_limit",
    "expires",
    "blocked",
    "created_at",
)


async def visible_keys(state: ProxyState, principal: Principal) -> list[dict[str, Any]]:
    """Key rows ``principal`` may read (never the key itself: only its hash and masked name)."""
    from ledgerlm.store import keys

    seen = visible(principal)
    engine = state.store.engine
    if seen.everything:
        rows = await keys.list_keys(engine, limit=LIMIT)
    elif seen.team_ids:
        rows = [
            row
            for team in sorted(seen.team_ids)
            for row in await keys.list_keys(engine, keys.KeyFilter(team_id=team))
        ]
    elif seen.user_ids:
        rows = await keys.list_keys(engine, keys.KeyFilter(user_id=next(iter(seen.user_ids))), limit=LIMIT)
    else:
        found = [await keys.get_key(engine, token) for token in sorted(seen.key_hashes)]
        rows = [row for row in found if row is not None]
    return [{name: row.get(name) for name in _KEY_FIELDS} for row in rows]


def _member(team: dict[str, Any], user_id: str) -> bool:
    return any(isinstance(m, dict) and m.get("user_id") == user_id for m in team.get("members") or [])


async def visible_teams(state: ProxyState, principal: Principal) -> list[dict[str, Any]]:
    """Team rows ``principal`` may read: all (admins), its admin teams, or teams it is a member of."""
    from ledgerlm.store import teams

    rows = await teams.list_teams(state.store.engine, limit=LIMIT)
    seen = visible(principal)
    if seen.everything:
        return rows
    if seen.team_ids:
        return [row for row in rows if row["team_id"] in seen.team_ids]
    user = principal.user_id
    return [row for row in rows if user is not None and _member(row, user)]


@ui_handler("keys")
async def list_keys(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``GET /ui/api/keys`` (budgeted keys carry ``budget_forecast``, see ``_with_forecasts``)."""
    return {"data": await _with_forecasts(state, "key", await visible_keys(state, principal))}


@ui_handler("teams")
async def list_teams(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``GET /ui/api/teams`` (budgeted teams carry ``budget_forecast``)."""
    return {"data": await _with_forecasts(state, "team", await visible_teams(state, principal))}


async def _with_forecasts(state: ProxyState, kind: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set ``budget_forecast`` (the field ``/key/info`` and ``/team/info`` answer: burn rate per hour
    over the forecast window, when the budget runs out, whether before its reset) on the first
    ``FORECAST_LIMIT`` rows with a ``max_budget``; ``null`` where none could be made."""
    from ledgerlm.proxy.spend_alert_routes import budget_forecast

    for row in [row for row in rows if row.get("max_budget") is not None][:FORECAST_LIMIT]:
        try:
            row["budget_forecast"] = await budget_forecast(state, kind, row)
        except Exception:  # a forecast is a hint: the table is shown without it
            logger.warning("dashboard: no budget forecast for %s", kind, exc_info=True)
            row["budget_forecast"] = None
    return rows


@ui_handler("users")
async def list_users(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``GET /ui/api/users`` (admins)."""
    from ledgerlm.store import users

    return {"data": await users.list_users(state.store.engine, limit=LIMIT)}


@ui_handler("end_users")
async def list_end_users(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``GET /ui/api/end_users`` (admins)."""
    from ledgerlm.store import customers

    return {"data": await customers.list_customers(state.store.engine, limit=LIMIT)}


def _budget_rows(
    kind: str, id_field: str, name_field: str, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "id": row[id_field],
            "name": row.get(name_field) or row.get("key_name"),
            "spend": row.get("spend"),
            "max_budget": row["max_budget"],
            "soft_budget": row.get("soft_budget"),
            "budget_duration": row.get("budget_duration"),
            "budget_reset_at": row.get("budget_reset_at"),
        }
        for row in rows
        if row.get("max_budget") is not None
    ]


@ui_handler("budgets")
async def list_budgets(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``GET /ui/api/budgets``: used (``spend``) vs ``max_budget`` with ``budget_reset_at``."""
    from ledgerlm.store import customers, users

    out = _budget_rows("team", "team_id", "team_alias", await visible_teams(state, principal))
    out += _budget_rows("key", "token", "key_alias", await visible_keys(state, principal))
    if visible(principal).everything:
        out += _budget_rows(
            "user", "user_id", "user_alias", await users.list_users(state.store.engine, limit=LIMIT)
        )
        end_users = await customers.list_customers(state.store.engine, limit=LIMIT)
        out += _budget_rows("end_user", "user_id", "alias", end_users)
    from ledgerlm.proxy.spend_alert_routes import latest_forecast  # issue 23: the forecast loop's last

    for row in out:
        row["forecast"] = latest_forecast(state, row["kind"], str(row["id"]))
    return {"data": out}


@ui_handler("reconciliation")
async def feature(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``GET /ui/api/feature?name=``: another feature's read route, or ``{"available": false}``."""
    name = request.query_params.get("name", "")
    path = FEATURES.get(name)
    if path is None:
        raise ValueError(f"name must be one of {', '.join(FEATURES)}")
    if not has_route(request, path):
        return {"available": False, "name": name}
    params = {k: v for k, v in request.query_params.items() if k in _FEATURE_PARAMS and v}
    run_id = request.query_params.get("run_id", "")
    if "{run_id}" in path and not (run_id.replace("-", "").replace("_", "").isalnum() and len(run_id) <= 64):
        raise ValueError("run_id must be a run's id")
    status, body = await call_route(request, "GET", path.replace("{run_id}", run_id), params=params)
    return {"available": True, "name": name, "status": status, "body": body}


def routes() -> list[Route]:
    """The table routes of the dashboard API."""
    return [
        Route("/ui/api/keys", list_keys, methods=["GET"]),
        Route("/ui/api/teams", list_teams, methods=["GET"]),
        Route("/ui/api/users", list_users, methods=["GET"]),
        Route("/ui/api/end_users", list_end_users, methods=["GET"]),
        Route("/ui/api/budgets", list_budgets, methods=["GET"]),
        Route("/ui/api/feature", feature, methods=["GET"]),
    ]
