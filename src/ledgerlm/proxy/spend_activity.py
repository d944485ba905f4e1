"""LiteLLM's daily activity routes: ``GET /user/daily/activity?user_id=``, ``GET
/team/daily/activity?team_ids=a,b``, ``GET /tag/daily/activity?tags=a,b``, each with ``start_date`` /
``end_date`` (``YYYY-MM-DD``, inclusive UTC days; both required).

Response (LiteLLM ``SpendAnalyticsPaginatedResponse``)::

    {"results": [{"date": "2025-03-27",
                  "metrics": {"spend", "prompt_tokens", "completion_tokens", "total_tokens",
                              "cache_read_input_tokens", "cache_creation_input_tokens",
                              "api_requests", "successful_requests", "failed_requests"},
                  "breakdown": {"models": {model: metrics}, "providers": {provider: metrics},
                                "api_keys": {key hash: metrics}}}],
     "metadata": {"total_spend", "total_prompt_tokens", "total_completion_tokens", "total_tokens",
                  "total_api_requests", "total_successful_requests", "total_failed_requests",
                  "page", "total_pages", "has_more"}}

Who sees what: ``ledgerlm.proxy.spend_api.scoped_filter`` (a user without ``user_id`` gets its own).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.management import managed
from ledgerlm.proxy.spend_api import parse_day, scoped_filter
from ledgerlm.proxy.state import ProxyState
from ledgerlm.store import spend_shapes
from ledgerlm.store.spend_queries import LogFilter

__all__ = ["routes"]

METRICS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "api_requests",
    "successful_requests",
    "failed_requests",
)


def _empty() -> dict[str, Any]:
    return {"spend": Decimal(0), **dict.fromkeys(METRICS, 0)}


def _add(into: dict[str, Any], row: dict[str, Any]) -> None:
    into["spend"] += row["spend"]
    for name in METRICS:
        into[name] += row[name]


def _base_filter(request: Request) -> LogFilter:
    q = request.query_params
    start = parse_day(q.get("start_date"), param="start_date")
    end = parse_day(q.get("end_date"), param="end_date")
    if start is None or end is None:
        raise BadRequestError("start_date and end_date are required (YYYY-MM-DD)", param="start_date")
    return LogFilter(start=start, end=end)


def _shape(rows: list[dict[str, Any]]) -> dict[str, Any]:
    days: dict[Any, dict[str, Any]] = {}
    total = _empty()
    for row in rows:
        day = days.setdefault(
            row["day"],
            {
                "date": row["day"].isoformat(),
                "metrics": _empty(),
                "breakdown": {"models": {}, "providers": {}, "api_keys": {}},
            },
        )
        _add(day["metrics"], row)
        _add(total, row)
        breakdown = day["breakdown"]
        for kind, name in (
            ("models", row["model"]),
            ("providers", row["provider"]),
            ("api_keys", row["api_key"]),
        ):
            _add(breakdown[kind].setdefault(name or "", _empty()), row)
    metadata = {f"total_{k}": v for k, v in total.items()}
    return {
        "results": list(days.values()),
        "metadata": {**metadata, "page": 1, "total_pages": 1, "has_more": False},
    }


def _listed(request: Request, name: str) -> list[str]:
    return [v.strip() for v in request.query_params.get(name, "").split(",") if v.strip()]


@managed()
async def user_activity(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /user/daily/activity?start_date=&end_date=&user_id=`` (no ``user_id``: the caller's user)."""
    wanted = request.query_params.get("user_id") or ctx.user_id
    filters = scoped_filter(ctx, replace(_base_filter(request), user_id=wanted))
    return _shape(await spend_shapes.activity_rows(state.store.engine, filters))


@managed()
async def team_activity(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /team/daily/activity?start_date=&end_date=&team_ids=a,b`` (no ``team_ids``: the key's team)."""
    team_ids = _listed(request, "team_ids") or _listed(request, "team_id") or [ctx.team_id or ""]
    rows: list[dict[str, Any]] = []
    for team_id in dict.fromkeys(t for t in team_ids if t):
        filters = scoped_filter(ctx, replace(_base_filter(request), team_id=team_id))
        rows.extend(await spend_shapes.activity_rows(state.store.engine, filters))
    return _shape(sorted(rows, key=lambda r: r["day"]))


@managed()
async def tag_activity(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /tag/daily/activity?start_date=&end_date=&tags=a,b`` (admins and admin viewers)."""
    tags = _listed(request, "tags") or _listed(request, "tag")
    if not tags:
        raise BadRequestError("tags is required (comma separated)", param="tags")
    rows: list[dict[str, Any]] = []
    for tag in dict.fromkeys(tags):
        filters = scoped_filter(ctx, _base_filter(request))
        rows.extend(await spend_shapes.activity_rows(state.store.engine, filters, tag=tag))
    return _shape(sorted(rows, key=lambda r: r["day"]))


def routes() -> list[Route]:
    """The daily activity routes."""
    return [
        Route("/user/daily/activity", user_activity, methods=["GET"]),
        Route("/team/daily/activity", team_activity, methods=["GET"]),
        Route("/tag/daily/activity", tag_activity, methods=["GET"]),
    ]
