"""Spend queries behind LiteLLM's spend API shapes (``ledgerlm.proxy.spend_litellm``).

* ``request_ids_for_response_id(engine, response_id)``: our request ids of the calls whose provider
  response id (``chatcmpl-...``, ``msg_...``; kept in ``metadata.response_id``) is ``response_id``.
* ``grouped_rows(engine, group_by, filters)``: spend per (UTC day, group, model, key hash) from spend log
  rows: ``day`` (``date``), ``group``, ``model``, ``api_key``, ``spend`` (``Decimal`` USD), token sums
  and ``api_requests`` / ``successful_requests`` / ``failed_requests``.
* ``activity_rows(engine, filters)``: the same per (day, model, provider, key hash), for the
  ``/{user,team,tag}/daily/activity`` breakdowns.

Rows are computed from ``spend_logs`` (with ``spend_log_tags`` for tags) so every LiteLLM filter
(``api_key``, ``internal_user_id``, ``team_id``, ``customer_id``, a key restriction) applies; the
``startTime`` indexes bound the scan to the date range. Unpriced calls add nothing to ``spend`` and are
counted in the request counts.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store.coltypes import to_decimal
from ledgerlm.store.spend_queries import LogFilter, _utc_day
from ledgerlm.store.tables import spend_log_tags, spend_logs

__all__ = ["GROUP_COLUMNS", "activity_rows", "grouped_rows", "request_ids_for_response_id"]

Row = dict[str, Any]
GROUP_COLUMNS: dict[str, str] = {
    "team": "team_id",
    "customer": "end_user",
    "api_key": "api_key",
    "user": "user",
    "model": "model_group",
    "tag": "tag",
}
_SUMS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


async def request_ids_for_response_id(engine: AsyncEngine, response_id: str, limit: int = 100) -> list[str]:
    """Our request ids whose ``metadata.response_id`` is ``response_id`` (a full scan of the JSON field:
    an admin lookup, not a hot path)."""
    c = spend_logs.c
    if engine.dialect.name == "postgresql":
        field = sa.cast(c.metadata, sa.JSON)["response_id"].as_string()
    else:
        field = sa.func.json_extract(c.metadata, "$.response_id")
    statement = sa.select(c.request_id).where(field == response_id).limit(limit)
    async with engine.connect() as conn:
        return [str(r[0]) for r in await conn.execute(statement)]


def _measures() -> list[sa.ColumnElement[Any]]:
    c = spend_logs.c
    return [
        sa.func.coalesce(sa.func.sum(c.spend), 0).label("spend"),
        *(sa.func.coalesce(sa.func.sum(c[name]), 0).label(name) for name in _SUMS),
        sa.func.count().label("api_requests"),
        sa.func.coalesce(sa.func.sum(sa.case((c.status == "success", 1), else_=0)), 0).label(
            "successful_requests"
        ),
        sa.func.coalesce(sa.func.sum(sa.case((c.status == "failure", 1), else_=0)), 0).label(
            "failed_requests"
        ),
    ]


async def _run(engine: AsyncEngine, statement: sa.Select[Any]) -> list[Row]:
    async with engine.connect() as conn:
        rows = [dict(r) for r in (await conn.execute(statement)).mappings()]
    for row in rows:
        row["spend"] = to_decimal(row["spend"] or 0)
        for name in (*_SUMS, "api_requests", "successful_requests", "failed_requests"):
            row[name] = int(row[name] or 0)
        if isinstance(row.get("day"), str):
            row["day"] = date.fromisoformat(row["day"])
    return rows


async def grouped_rows(engine: AsyncEngine, group_by: str, filters: LogFilter) -> list[Row]:
    """Spend per (day, group, model, key hash) matching ``filters``, by day then highest spend.

    Raises ``KeyError`` for a ``group_by`` not in ``GROUP_COLUMNS``."""
    c = spend_logs.c
    day = _utc_day(c.startTime, engine.dialect.name).label("day")
    group_col = spend_log_tags.c.tag if group_by == "tag" else c[GROUP_COLUMNS[group_by]]
    model = sa.func.coalesce(c.model_group, c.model).label("model")
    source: Any = spend_logs
    if group_by == "tag":
        source = spend_logs.join(spend_log_tags, spend_log_tags.c.request_id == c.request_id)
    keys = [day, group_col.label("group"), model, c.api_key]
    statement = (
        sa.select(*keys, *_measures())
        .select_from(source)
        .where(*filters.conditions())
        .group_by(day, group_col, model, c.api_key)
        .order_by(day)
    )
    return await _run(engine, statement)


async def activity_rows(engine: AsyncEngine, filters: LogFilter, tag: str | None = None) -> list[Row]:
    """Spend per (day, model, provider, key hash) matching ``filters`` (and carrying ``tag``)."""
    c = spend_logs.c
    day = _utc_day(c.startTime, engine.dialect.name).label("day")
    model = sa.func.coalesce(c.model_group, c.model).label("model")
    conditions = list(filters.conditions())
    if tag is not None:
        tagged = sa.select(spend_log_tags.c.request_id).where(spend_log_tags.c.tag == tag)
        conditions.append(c.request_id.in_(tagged))
    statement = (
        sa.select(day, model, c.custom_llm_provider.label("provider"), c.api_key, *_measures())
        .where(*conditions)
        .group_by(day, model, c.custom_llm_provider, c.api_key)
        .order_by(day)
    )
    return await _run(engine, statement)
