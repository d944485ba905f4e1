"""Spend routes over the store's queries (``ledgerlm.store.spend_queries``).

* ``GET /spend/logs``: filters ``request_id``, ``api_key`` (a key or its hash), ``user_id``, ``team_id``,
  ``end_user``, ``tags`` (comma separated; rows having ANY of them), ``model``, ``status``,
  ``start_date``/``end_date`` (``YYYY-MM-DD`` or ISO-8601; end date inclusive), ``page`` (from 1),
  ``page_size`` (max 1000). A virtual key sees ONLY its own rows (another ``api_key`` filter: 403).
* ``GET /spend/tags``: spend (USD decimal string) and request count per tag over the date range.
* ``GET /global/spend/report?group_by=team|customer|api_key|tag|model|day``.
The last two need the master key.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError, PermissionDeniedError
from ledgerlm.proxy.auth import KeyContext, hash_key
from ledgerlm.proxy.management import managed
from ledgerlm.proxy.state import ProxyState

__all__ = ["GROUP_BY", "parse_date", "routes"]

GROUP_BY = ("team", "customer", "api_key", "tag", "model", "day")
MAX_PAGE_SIZE = 1000


def parse_date(value: str | None, *, end: bool = False, param: str) -> datetime | None:
    """``YYYY-MM-DD`` (start of day; for ``end``: start of the NEXT day, so the day is included) or an
    ISO-8601 datetime (naive = UTC). Raises 400 for anything else."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(0), tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestError(f"{param} must be YYYY-MM-DD or ISO-8601, got {value!r}", param=param) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer", param=name) from None
    if not lo <= value <= hi:
        raise BadRequestError(f"{name} must be between {lo} and {hi}", param=name)
    return value


def _own_key_filter(ctx: KeyContext, requested: str | None) -> str | None:
    """The ``api_key`` filter: any for the admin; a virtual key only ever sees its own hash."""
    wanted = hash_key(requested) if requested and len(requested) != 64 else requested
    if ctx.is_admin:
        return wanted
    if wanted is not None and wanted != ctx.token:
        raise PermissionDeniedError("a virtual key can only read its own spend", param="api_key")
    return ctx.token


def log_filters(request: Request, ctx: KeyContext) -> dict[str, Any]:
    """The ``/spend/logs`` filters from the query string (see the module docstring)."""
    q = request.query_params
    tags = [t.strip() for t in q.get("tags", "").split(",") if t.strip()]
    return {
        "request_id": q.get("request_id") or None,
        "api_key": _own_key_filter(ctx, q.get("api_key")),
        "user_id": q.get("user_id") or None,
        "team_id": q.get("team_id") or None,
        "end_user": q.get("end_user") or None,
        "tags": tags or None,
        "model": q.get("model") or None,
        "status": q.get("status") or None,
        "start": parse_date(q.get("start_date"), param="start_date"),
        "end": parse_date(q.get("end_date"), end=True, param="end_date"),
    }


@managed(admin=False)
async def spend_logs(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /spend/logs`` -> ``{"data": [rows], "page", "page_size"}``."""
    from ledgerlm.store import spend_queries

    filters = log_filters(request, ctx)
    page = _int(request, "page", 1, 1, 10**9)
    size = _int(request, "page_size", 100, 1, MAX_PAGE_SIZE)
    rows = await spend_queries.spend_logs(state.store.engine, **filters, limit=size, offset=(page - 1) * size)
    return {"data": rows, "page": page, "page_size": size}


def _range(request: Request) -> tuple[datetime | None, datetime | None]:
    q = request.query_params
    return (
        parse_date(q.get("start_date"), param="start_date"),
        parse_date(q.get("end_date"), end=True, param="end_date"),
    )


@managed()
async def spend_tags(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /spend/tags`` -> ``{"data": [{"tag", "spend", "requests", ...}]}``."""
    from ledgerlm.store import spend_queries

    start, end = _range(request)
    return {"data": await spend_queries.spend_by_tag(state.store.engine, start=start, end=end)}


@managed()
async def global_report(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /global/spend/report?group_by=&start_date=&end_date=``."""
    from ledgerlm.store import spend_queries

    group_by = request.query_params.get("group_by", "team")
    if group_by not in GROUP_BY:
        raise BadRequestError(f"group_by must be one of {', '.join(GROUP_BY)}", param="group_by")
    start, end = _range(request)
    rows = await spend_queries.spend_report(state.store.engine, group_by=group_by, start=start, end=end)
    return {"group_by": group_by, "data": rows}


def routes() -> list[Route]:
    """The spend routes."""
    return [
        Route("/spend/logs", spend_logs, methods=["GET"]),
        Route("/spend/tags", spend_tags, methods=["GET"]),
        Route("/global/spend/report", global_report, methods=["GET"]),
    ]
