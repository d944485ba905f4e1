"""LiteLLM's spend API shapes (admin scripts and dashboards written for LiteLLM read these unchanged).

* ``GET /spend/logs``: a JSON LIST of spend log rows, newest first. Filters: ``request_id`` (ours, or the
  provider's response id such as ``chatcmpl-...``), ``api_key`` (a key or its hash), ``user_id``,
  ``team_id``, ``end_user``, ``start_date``/``end_date`` (``YYYY-MM-DD``, inclusive UTC days). With both
  dates and ``summarize`` not ``false`` (LiteLLM's default): one entry per day, ``{"startTime", "spend",
  "users": {user: spend}, "models": {model: spend}}``. Rows carry LiteLLM's ``user_api_key_*`` metadata.
  At most ``MAX_ROWS`` rows (newest); ``/spend/logs/v2`` pages through everything.
* ``GET /spend/tags`` and ``GET /global/spend/tags``: ``[{"individual_request_tag", "log_count",
  "total_spend"}]``, highest spend first.
* ``GET /global/spend/report?group_by=team|customer|api_key|user|tag|model``: ``[{"group_by_day",
  "<teams|customers|api_keys|users|tags|models>": [{"<team_name|customer|api_key|...>", "total_spend",
  "metadata": [{"model", "spend", "total_tokens", "api_key"}]}]}]``; filters ``api_key``,
  ``internal_user_id``, ``team_id``, ``customer_id`` and the dates.
* ``POST /global/spend/reset``: every key's and team's running ``spend`` to 0 (the spend log is kept:
  history is append-only); budget counters follow.

Who sees what: ``proxy.roles`` (admins and admin viewers everything; a user its own user's calls; a key
without a user its own calls; asking for another's: 403). Money is an exact JSON number.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.management import managed
from ledgerlm.proxy.spend_api import dimension_report_route, key_hash, parse_day, scoped_filter
from ledgerlm.proxy.state import ProxyState
from ledgerlm.store import spend_queries, spend_shapes, tables
from ledgerlm.store.spend_queries import LogFilter

__all__ = ["REPORT_KEYS", "log_row", "routes"]

MAX_ROWS = 1000
REPORT_KEYS = {
    "team": ("teams", "team_name"),
    "customer": ("customers", "customer"),
    "api_key": ("api_keys", "api_key"),
    "user": ("users", "user_id"),
    "tag": ("tags", "tag"),
    "model": ("models", "model"),
}


def _filters(request: Request) -> LogFilter:
    q = request.query_params
    return LogFilter(
        request_id=q.get("request_id") or None,
        api_key=key_hash(q.get("api_key")),
        user_id=q.get("user_id") or q.get("internal_user_id") or None,
        team_id=q.get("team_id") or None,
        end_user=q.get("end_user") or q.get("customer_id") or None,
        start=parse_day(q.get("start_date"), param="start_date"),
        end=parse_day(q.get("end_date"), param="end_date"),
    )


def log_row(row: dict[str, Any]) -> dict[str, Any]:
    """A spend log row as LiteLLM shows it: ``metadata`` gains the ``user_api_key_*`` fields."""
    metadata = dict(row.get("metadata") or {})
    metadata.update(
        {
            "user_api_key": row.get("api_key"),
            "user_api_key_alias": metadata.get("key_alias"),
            "user_api_key_team_id": row.get("team_id"),
            "user_api_key_user_id": row.get("user"),
            "user_api_key_org_id": row.get("organization_id"),
            "user_api_key_end_user_id": row.get("end_user"),
            "spend_logs_metadata": (metadata.get("request_metadata") or {}).get("spend_logs_metadata"),
            "requester_ip_address": row.get("requester_ip_address"),
            "status": row.get("status"),
        }
    )
    out = {k: v for k, v in row.items() if k != "call_uid"}
    return {**out, "metadata": metadata}


async def _with_response_id(state: ProxyState, filters: LogFilter) -> LogFilter | None:
    """A ``request_id`` that is not ours may be a provider response id: use our id of that call."""
    if filters.request_id is None:
        return filters
    engine = state.store.engine
    if await spend_queries.count_logs(engine, LogFilter(request_id=filters.request_id)):
        return filters
    ours = await spend_shapes.request_ids_for_response_id(engine, filters.request_id)
    return replace(filters, request_id=ours[0]) if ours else None


@managed()
async def spend_logs(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /spend/logs`` -> a list of rows (or of daily summaries; see the module docstring)."""
    filters = await _with_response_id(state, scoped_filter(ctx, _filters(request)))
    if filters is None:
        return []
    summarize = request.query_params.get("summarize", "true").lower() != "false"
    if summarize and filters.start is not None and filters.end is not None:
        return await _daily_summary(state, filters)
    rows = await spend_queries.query_logs(state.store.engine, filters, limit=MAX_ROWS)
    return [log_row(r) for r in rows]


async def _daily_summary(state: ProxyState, filters: LogFilter) -> list[dict[str, Any]]:
    by_user = await spend_shapes.grouped_rows(state.store.engine, "user", filters)
    days: dict[Any, dict[str, Any]] = {}
    for row in by_user:
        day = days.setdefault(
            row["day"],
            {
                "startTime": row["day"].isoformat(),
                "spend": Decimal(0),
                "users": defaultdict(Decimal),
                "models": defaultdict(Decimal),
            },
        )
        day["spend"] += row["spend"]
        day["users"][row["group"] or ""] += row["spend"]
        day["models"][row["model"]] += row["spend"]
    return [{**d, "users": dict(d["users"]), "models": dict(d["models"])} for d in days.values()]


async def _tag_rows(request: Request, state: ProxyState, ctx: KeyContext) -> list[dict[str, Any]]:
    filters = scoped_filter(ctx, _filters(request))
    rows = await spend_shapes.grouped_rows(state.store.engine, "tag", filters)
    totals: dict[str, list[Any]] = {}
    for row in rows:
        entry = totals.setdefault(row["group"], [0, Decimal(0)])
        entry[0] += row["api_requests"]
        entry[1] += row["spend"]
    out = [{"individual_request_tag": t, "log_count": n, "total_spend": s} for t, (n, s) in totals.items()]
    return sorted(out, key=lambda r: (-r["total_spend"], r["individual_request_tag"]))


@managed()
async def spend_tags(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /spend/tags?start_date=&end_date=`` -> spend and request count per request tag."""
    return await _tag_rows(request, state, ctx)


@managed()
async def global_spend_tags(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /global/spend/tags`` -> the same list over every key (admins and admin viewers)."""
    return await _tag_rows(request, state, ctx)


@managed()
async def global_report(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /global/spend/report?group_by=team&start_date=&end_date=&api_key=&internal_user_id=
    &team_id=&customer_id=`` -> one entry per day (LiteLLM's shape; module docstring)."""
    group_by = request.query_params.get("group_by", "team")
    if group_by.startswith("tag:"):  # ledgerlm's allocated report per tag dimension (docs/tags.md)
        return await dimension_report_route(request, state, ctx, group_by[4:])
    if group_by not in REPORT_KEYS:
        raise BadRequestError(f"group_by must be one of {', '.join(REPORT_KEYS)}", param="group_by")
    filters = scoped_filter(ctx, _filters(request))
    rows = await spend_shapes.grouped_rows(state.store.engine, group_by, filters)
    labels = await _labels(state, group_by, {r["group"] for r in rows})
    list_key, name_key = REPORT_KEYS[group_by]
    days: dict[Any, dict[str, dict[str, Any]]] = {}
    for row in rows:
        if row["group"] is None:
            continue
        groups = days.setdefault(row["day"], {})
        entry = groups.setdefault(row["group"], _report_entry(group_by, name_key, row["group"], labels))
        entry["total_spend"] += row["spend"]
        entry["metadata"].append(
            {
                "model": row["model"],
                "spend": row["spend"],
                "total_tokens": row["total_tokens"],
                "api_key": row["api_key"],
            }
        )
    return [
        {
            "group_by_day": f"{day.isoformat()}T00:00:00+00:00",
            list_key: sorted(groups.values(), key=lambda e: -e["total_spend"]),
        }
        for day, groups in sorted(days.items())
    ]


def _report_entry(group_by: str, name_key: str, group: str, labels: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {name_key: labels.get(group, group), "total_spend": Decimal(0), "metadata": []}
    if group_by == "team":
        entry["team_id"] = group
    if group_by == "api_key":
        entry["key_alias"] = labels.get(f"alias:{group}")
    return entry


async def _labels(state: ProxyState, group_by: str, ids: set[str]) -> dict[str, str]:
    """Team aliases (``team_name``) and key aliases for the report."""
    ids = {i for i in ids if i}
    if not ids or group_by not in ("team", "api_key"):
        return {}
    table, pk, label = (
        (tables.teams, "team_id", "team_alias")
        if group_by == "team"
        else (tables.verification_tokens, "token", "key_alias")
    )
    async with state.store.engine.connect() as conn:
        found = (
            await conn.execute(sa.select(table.c[pk], table.c[label]).where(table.c[pk].in_(list(ids))))
        ).all()
    if group_by == "team":
        return {i: a for i, a in found if a}
    return {f"alias:{i}": a for i, a in found if a}


@managed()
async def global_spend_reset(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /global/spend/reset``: every key's and team's ``spend`` to 0 (spend log rows are kept)."""
    from ledgerlm.budgets.types import EntityKind, EntityRef

    refs: list[EntityRef] = []
    async with state.store.engine.begin() as conn:
        for kind, table, pk in (
            ("key", tables.verification_tokens, "token"),
            ("team", tables.teams, "team_id"),
        ):
            ids = [r[0] for r in await conn.execute(sa.select(table.c[pk]).where(table.c.spend != 0))]
            await conn.execute(table.update().values(spend=0))
            refs.extend(EntityRef(cast(EntityKind, kind), i) for i in ids)
    backend = getattr(state.admission, "backend", None)
    for ref in refs:
        if backend is not None:
            await backend.reset_spend(ref)
    return {"message": "Spend for all API Keys and Teams reset successfully", "status": "success"}


def routes() -> list[Route]:
    """LiteLLM-shaped spend routes."""
    return [
        Route("/spend/logs", spend_logs, methods=["GET"]),
        Route("/spend/tags", spend_tags, methods=["GET"]),
        Route("/global/spend/tags", global_spend_tags, methods=["GET"]),
        Route("/global/spend/report", global_report, methods=["GET"]),
        Route("/global/spend/reset", global_spend_reset, methods=["POST"]),
    ]
