"""Anthropic's Admin API usage and cost reports, served from what the simulator billed.

``GET /v1/organizations/cost_report`` and ``GET /v1/organizations/usage_report/messages`` (see
``simulator.admin_reports`` for the parameters). Cost amounts are CENTS as decimal strings, as the
API documents (``"123.45"`` = $1.2345); times are RFC 3339 UTC day buckets.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from ledgerlm.simulator.admin_reports import (
    _TOKEN_TYPE,
    _days,
    _group_by,
    _json,
    _page,
    _sums,
    _window_rfc3339,
    usd,
)
from ledgerlm.simulator.billing import Billing
from ledgerlm.simulator.state import SimState

__all__ = ["routes"]


def _error(status: int, message: str) -> web.Response:
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    return web.json_response(body, status=status)


def _rfc(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _cost_results(
    billing: Billing, groups: dict[Any, dict[str, int]], described: bool
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    total = Decimal(0)
    for group, counts in sorted(groups.items()):
        fields = dict(group)
        for category, tokens in counts.items():
            if category not in (*_TOKEN_TYPE, "web_search") or not tokens:
                continue
            cents = usd(billing, "anthropic", fields["model"], category, tokens) * 100
            total += cents
            if described:
                web_search = category == "web_search"
                out.append(
                    {
                        "currency": "USD",
                        "amount": format(cents, "f"),
                        "workspace_id": fields.get("workspace_id"),
                        "description": f"{fields['model']} {category}",
                        "cost_type": "web_search" if web_search else "tokens",
                        "context_window": None if web_search else "0-200k",
                        "model": fields["model"],
                        "service_tier": None if web_search else "standard",
                        "token_type": None if web_search else _TOKEN_TYPE[category],
                    }
                )
    if not described and groups:
        empty = dict.fromkeys(("workspace_id", "description", "cost_type", "context_window", "model"))
        empty.update(service_tier=None, token_type=None)
        out.append({"currency": "USD", "amount": format(total, "f"), **empty})
    return out


def _usage_result(fields: dict[str, str], counts: dict[str, int]) -> dict[str, Any]:
    return {
        "uncached_input_tokens": counts.get("input", 0),
        "cache_creation": {
            "ephemeral_1h_input_tokens": counts.get("cache_write_1h", 0),
            "ephemeral_5m_input_tokens": counts.get("cache_write_5m", 0),
        },
        "cache_read_input_tokens": counts.get("cached_input", 0),
        "output_tokens": counts.get("output", 0),
        "server_tool_use": {"web_search_requests": counts.get("web_search", 0)},
        "api_key_id": fields.get("api_key_id"),
        "workspace_id": fields.get("workspace_id"),
        "model": fields.get("model"),
        "service_tier": "standard" if "service_tier" in fields else None,
        "context_window": None,
    }


def _window(state: SimState, request: web.Request) -> tuple[datetime, datetime] | web.Response:
    state.log(request, None)
    if not request.headers.get("x-api-key"):
        return _error(401, "x-api-key (admin key) required (simulated)")
    if state.billing.take_failure():
        body = {
            "type": "error",
            "error": {"type": "rate_limit_error", "message": "Rate limited (simulated)."},
        }
        return web.json_response(body, status=429, headers={"Retry-After": "0"})
    if "starting_at" not in request.query:
        return _error(400, "starting_at is required")
    return _window_rfc3339(request)


def _buckets(
    bounds: tuple[datetime, datetime], per_day: dict[date, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    return [
        {
            "starting_at": _rfc(day),
            "ending_at": _rfc(day + timedelta(days=1)),
            "results": per_day.get(day, []),
        }
        for day in _days(*bounds)
    ]


async def _cost_report(state: SimState, request: web.Request) -> web.Response:
    bounds = _window(state, request)
    if isinstance(bounds, web.Response):
        return bounds
    fields = _group_by(request)
    sums = _sums(state.billing.snapshot("anthropic"), ["model", *(f for f in fields if f == "workspace_id")])
    days: dict[date, dict[Any, dict[str, int]]] = defaultdict(dict)
    for (day, group), counts in sums.items():
        days[day][group] = counts
    per_day = {day: _cost_results(state.billing, g, "description" in fields) for day, g in days.items()}
    return _json(_page(request, _buckets(bounds, per_day), state.billing, 31))


async def _usage_report(state: SimState, request: web.Request) -> web.Response:
    bounds = _window(state, request)
    if isinstance(bounds, web.Response):
        return bounds
    per_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    calls = [c for c in state.billing.snapshot("anthropic") if c.endpoint == "messages"]
    for (day, group), counts in sorted(_sums(calls, _group_by(request)).items()):
        per_day[day].append(_usage_result(dict(group), counts))
    return _json(_page(request, _buckets(bounds, per_day), state.billing, 31))


def routes(state: SimState) -> list[web.RouteDef]:
    """The two Anthropic report routes bound to ``state``."""

    async def cost_report(request: web.Request) -> web.Response:
        return await _cost_report(state, request)

    async def usage_report(request: web.Request) -> web.Response:
        return await _usage_report(state, request)

    return [
        web.get("/v1/organizations/cost_report", cost_report),
        web.get("/v1/organizations/usage_report/messages", usage_report),
    ]
