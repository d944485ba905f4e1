"""Spend routes over the store's queries (``ledgerlm.store.spend_queries``): our richer, paginated form.

* ``GET /spend/logs/v2``: filters ``request_id``, ``api_key`` (a key or its hash), ``user_id``, ``team_id``,
  ``end_user``, ``tags`` (comma separated; rows having ANY of them), ``model``, ``status``,
  ``start_date``/``end_date`` (``YYYY-MM-DD`` UTC days, both inclusive), ``page`` (from 1), ``page_size``
  (max 1000) -> ``{"data": [rows], "total", "page", "page_size", "total_pages"}``, newest first.
* ``GET /global/spend/report/v2?group_by=team|customer|api_key|user|tag|model|day``: totals per group with
  request counts, failures and unpriced calls (``tag``: raw tags, overlapping, labelled
  ``"semantics": "overlapping"``), or ``group_by=tag:<dimension>``: spend allocated per dimension value,
  adding up to the total (``ledgerlm.tags.report``; ``/global/spend/report`` answers it too).

LiteLLM's own shapes (``/spend/logs`` as a list, ``/global/spend/report``, ``/spend/tags``) are in
``ledgerlm.proxy.spend_litellm``. Who sees what (``scoped_filter``, ``ledgerlm.proxy.roles``): admins and
admin viewers everything; a key of a user that user's calls; a key without a user its own calls; asking
for another's rows is a 403.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, cast

from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError, PermissionDeniedError
from ledgerlm.proxy import roles
from ledgerlm.proxy.auth import KeyContext, hash_key
from ledgerlm.proxy.management import managed
from ledgerlm.proxy.state import ProxyState
from ledgerlm.store import spend_queries
from ledgerlm.store.spend_queries import GroupBy, LogFilter

__all__ = ["dimension_report_route", "key_hash", "parse_day", "routes", "scoped_filter"]

MAX_PAGE_SIZE = 1000
GROUP_BY = ("team", "customer", "api_key", "user", "tag", "model", "day")


def parse_day(value: str | None, *, param: str) -> date | None:
    """``YYYY-MM-DD`` (or an ISO-8601 datetime, whose UTC date is used); 400 for anything else."""
    if not value:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestError(f"{param} must be YYYY-MM-DD, got {value!r}", param=param) from None
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


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


def key_hash(value: str | None) -> str | None:
    if not value:
        return None
    return value if len(value) == 64 and not value.startswith("sk-") else hash_key(value)


def scoped_filter(ctx: KeyContext, filters: LogFilter) -> LogFilter:
    """``filters`` limited to what the caller may read (403 when it asks for another's rows)."""
    if roles.sees_all(ctx):
        return filters
    if ctx.user_id:
        if filters.user_id not in (None, ctx.user_id):
            raise PermissionDeniedError("you may only read your own spend", param="user_id")
        return replace(filters, user_id=ctx.user_id)  # any key filter must then be one of the user's
    if filters.api_key not in (None, ctx.token):
        raise PermissionDeniedError("a virtual key can only read its own spend", param="api_key")
    return replace(filters, restrict_api_key=ctx.token)


def _dates(request: Request) -> tuple[date | None, date | None]:
    q = request.query_params
    return parse_day(q.get("start_date"), param="start_date"), parse_day(q.get("end_date"), param="end_date")


def _status(value: str | None) -> str | None:
    """The ``status`` filter: ``success``, ``failure`` or none; anything else is a 400 naming it."""
    if not value:
        return None
    if value not in ("success", "failure"):
        raise BadRequestError(f"status must be 'success' or 'failure', got {value!r}", param="status")
    return value


def log_filter(request: Request) -> LogFilter:
    """The ``/spend/logs`` filters from the query string (see the module docstring)."""
    q = request.query_params
    start, end = _dates(request)
    return LogFilter(
        request_id=q.get("request_id") or None,
        api_key=key_hash(q.get("api_key")),
        user_id=q.get("user_id") or None,
        team_id=q.get("team_id") or None,
        end_user=q.get("end_user") or None,
        tags=[t.strip() for t in q.get("tags", "").split(",") if t.strip()],
        model=q.get("model") or None,
        status=_status(q.get("status")),
        start=start,
        end=end,
    )


@managed()
async def spend_logs_v2(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /spend/logs/v2`` -> ``{"data": [rows], "total", "page", "page_size", "total_pages"}``."""
    filters = scoped_filter(ctx, log_filter(request))
    page = _int(request, "page", 1, 1, 10**9)
    size = _int(request, "page_size", 100, 1, MAX_PAGE_SIZE)
    engine = state.store.engine
    rows = await spend_queries.query_logs(engine, filters, limit=size, offset=(page - 1) * size)
    total = await spend_queries.count_logs(engine, filters)
    return {"data": rows, "total": total, "page": page, "page_size": size, "total_pages": -(-total // size)}


@managed()
async def global_report_v2(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /global/spend/report/v2?group_by=team|customer|api_key|user|tag|model|day&start_date=
    &end_date=`` -> ``{"group_by", "data": [{"group", "label", "spend", "api_requests",
    "successful_requests", "failed_requests", "unpriced_requests", token sums}]}`` (totals over the range,
    from the daily aggregates; a caller that does not see everything: from its own rows)."""
    group_by = request.query_params.get("group_by", "team")
    if group_by.startswith("tag:"):
        return await dimension_report_route(request, state, ctx, group_by[4:])
    if group_by not in GROUP_BY:
        raise BadRequestError(f"group_by must be one of {', '.join(GROUP_BY)}", param="group_by")
    start, end = _dates(request)
    restrict = None if roles.sees_all(ctx) else ctx.token
    if ctx.user_id and restrict is not None:  # a user's report covers its own user's calls
        filters = scoped_filter(ctx, LogFilter(start=start, end=end))
        rows = await spend_queries.spend_report_where(state.store.engine, cast(GroupBy, group_by), filters)
    else:
        rows = await spend_queries.spend_report(
            state.store.engine, cast(GroupBy, group_by), start=start, end=end, restrict_api_key=restrict
        )
    if group_by == "tag":  # a call with several tags counts in each: the rows may sum to more than spend
        return {"group_by": group_by, "semantics": "overlapping", "data": rows}
    return {"group_by": group_by, "data": rows}


async def dimension_report_route(request: Request, state: ProxyState, ctx: KeyContext, dimension: str) -> Any:
    """``group_by=tag:<dimension>``: allocated spend per value (``ledgerlm.tags.report``)."""
    from ledgerlm.tags.policy import DIMENSION_NAME_RULE, is_dimension_name
    from ledgerlm.tags.report import dimension_report

    if not is_dimension_name(dimension):
        raise BadRequestError(f"group_by=tag:<dimension>: {DIMENSION_NAME_RULE}", param="group_by")
    start, end = _dates(request)
    filters = scoped_filter(ctx, LogFilter(start=start, end=end))
    return await dimension_report(state.store.engine, dimension, state.tags.policies, filters)


def routes() -> list[Route]:
    """Our richer spend routes."""
    return [
        Route("/spend/logs/v2", spend_logs_v2, methods=["GET"]),
        Route("/global/spend/report/v2", global_report_v2, methods=["GET"]),
    ]
