"""Dashboard reads: ``GET /ui/api/overview``, ``GET /ui/api/logs``, ``GET /ui/api/logs/detail``.

* overview: ``?start_date=&end_date=`` (UTC days, inclusive; default the last 30 days) ``&dimension=``
  (``team``, ``key``, ``user``, ``end_user``, ``model``, ``provider``, ``tag``) ->
  ``{from, to, dimension, totals, daily, groups, available}`` from the daily rollups only
  (``ledgerlm.store.dashboard.overview``); ``groups`` rows carry a ``label`` (team or key alias);
  ``available`` is false when the caller's role cannot be answered for that dimension.
* logs: filters ``start_date``, ``end_date``, ``api_key`` (key or hash), ``team_id``, ``user_id``,
  ``model``, ``status``, ``tag``, ``request_id``; ``limit`` (1..500, default 50), ``cursor`` ->
  ``{data, next_cursor}`` (keyset pagination, newest first).
* detail: ``?request_id=`` -> ``{row, usage, cost, price_id, price_ref, price_source, adjustments,
  messages, response}``:
  usage by category (tokens), the cost breakdown (USD per category, ``total`` null when unpriced), the
  price it was priced with, adjustments recorded against it, prompts only when the proxy stored them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError, NotFoundError
from ledgerlm.proxy.spend_api import parse_day
from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.ui.guard import ui_handler
from ledgerlm.proxy.ui.roles import visible
from ledgerlm.proxy.ui.session import Principal
from ledgerlm.store import dashboard
from ledgerlm.store.keys import hash_key
from ledgerlm.store.spend_queries import LogFilter
from ledgerlm.store.tables import TOKEN_COLUMNS, teams, verification_tokens

__all__ = ["routes"]

DEFAULT_DAYS = 30
MAX_DAYS = 3660


def _period(request: Request) -> tuple[date, date]:
    q = request.query_params
    end = parse_day(q.get("end_date"), param="end_date") or datetime.now(UTC).date()
    start = parse_day(q.get("start_date"), param="start_date") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end or (end - start).days > MAX_DAYS:
        raise BadRequestError("start_date must be on or before end_date, within 10 years", param="start_date")
    return start, end


async def _labels(state: ProxyState, dimension: str, groups: list[dict[str, Any]]) -> None:
    """Set ``label`` on overview groups: the team alias, or the key alias (else its masked name)."""
    ids = [row["group"] for row in groups]
    statement: Any = None
    if ids and dimension == "team":
        statement = sa.select(teams.c.team_id, teams.c.team_alias).where(teams.c.team_id.in_(ids))
    elif ids and dimension == "key":
        c = verification_tokens.c
        statement = sa.select(c.token, sa.func.coalesce(c.key_alias, c.key_name)).where(c.token.in_(ids))
    found: dict[str, str | None] = {}
    if statement is not None:
        async with state.store.engine.connect() as conn:
            found = {row[0]: row[1] for row in await conn.execute(statement)}
    for row in groups:
        row["label"] = found.get(row["group"])


@ui_handler("overview")
async def overview(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``GET /ui/api/overview`` (module docstring)."""
    start, end = _period(request)
    dimension = request.query_params.get("dimension", "team")
    query = dashboard.OverviewQuery(dimension, start, end, visible(principal))
    result = await dashboard.overview(state.store.engine, query)
    if result["groups"] is not None:
        await _labels(state, dimension, result["groups"])
    return {
        "from": start,
        "to": end,
        "dimension": dimension,
        "available": result["groups"] is not None,
        **result,
    }


def _log_filter(request: Request) -> LogFilter:
    q = request.query_params
    status = q.get("status") or None
    if status not in (None, "success", "failure"):
        raise BadRequestError("status must be success or failure", param="status")
    start = parse_day(q.get("start_date"), param="start_date")
    end = parse_day(q.get("end_date"), param="end_date")
    return LogFilter(
        request_id=q.get("request_id") or None,
        api_key=hash_key(q["api_key"]) if q.get("api_key") else None,
        user_id=q.get("user_id") or None,
        team_id=q.get("team_id") or None,
        tags=[q["tag"]] if q.get("tag") else [],
        model=q.get("model") or None,
        status=status,
        start=start,
        end=end,
    )


@ui_handler("logs")
async def logs(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``GET /ui/api/logs`` (module docstring)."""
    raw_limit = request.query_params.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 500:
        raise BadRequestError("limit must be 1..500", param="limit")
    rows, following = await dashboard.log_page(
        state.store.engine,
        _log_filter(request),
        visible(principal),
        limit=int(raw_limit),
        cursor=request.query_params.get("cursor") or None,
    )
    return {"data": rows, "next_cursor": following}


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str | bytes):
        import orjson

        try:
            loaded = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {}


@ui_handler("logs")
async def log_detail(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``GET /ui/api/logs/detail?request_id=`` (module docstring); 404 when absent or not visible."""
    request_id = request.query_params.get("request_id") or ""
    row = await dashboard.log_row(state.store.engine, request_id, visible(principal))
    if row is None:
        raise NotFoundError(f"no spend log {request_id!r} you may read", param="request_id")
    metadata = _as_dict(row.pop("metadata", None))
    cost = metadata.get("cost") or {}
    return {
        "row": row,
        "usage": {name: row[name] for name in TOKEN_COLUMNS},
        "raw_usage": metadata.get("usage"),
        "cost": {**cost, "total": row["spend"]},
        "price_id": row.get("price_id") or cost.get("price_id"),
        "price_ref": cost.get("model_ref"),
        "price_source": cost.get("source"),
        "adjustments": await dashboard.adjustments_of(state.store.engine, request_id),
        "messages": row.pop("messages", None),
        "response": row.pop("response", None),
    }


def routes() -> list[Route]:
    """The read routes of the dashboard API."""
    return [
        Route("/ui/api/overview", overview, methods=["GET"]),
        Route("/ui/api/logs", logs, methods=["GET"]),
        Route("/ui/api/logs/detail", log_detail, methods=["GET"]),
    ]
