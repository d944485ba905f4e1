"""The providers' admin report endpoints, served from what the simulator billed (``simulator.billing``).

OpenAI (Bearer admin key): ``GET /v1/organization/costs`` (``start_time`` required, ``end_time``,
``bucket_width=1d``, ``group_by`` ``line_item`` / ``project_id``, ``limit`` default 7 max 180, ``page``)
and ``GET /v1/organization/usage/{completions,embeddings,images,audio_speeches,audio_transcriptions}``
(``group_by`` ``model`` / ``api_key_id`` / ``project_id``, ``limit`` default 7 max 31). Anthropic
(``x-api-key``): ``GET /v1/organizations/cost_report`` (``starting_at`` required, ``ending_at``,
``group_by[]`` ``workspace_id`` / ``description``, ``limit`` default 7 max 31, ``page``; amounts in
CENTS as decimal strings) and ``GET /v1/organizations/usage_report/messages`` (``group_by[]`` ``model``
/ ``api_key_id`` / ``workspace_id`` / ``service_tier``). Buckets are UTC days; every day of the window
has a bucket (empty ``results`` when nothing was billed). Money is priced by the catalog
(``ledgerlm.pricing``) times the ``price_factor`` knob, as exact decimals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from ledgerlm.simulator.billing import BilledCall, Billing
from ledgerlm.simulator.state import SimState, error_response

__all__ = ["openai_routes", "routes", "usd"]

_LINE_ITEM = {
    "input": "input",
    "cached_input": "cached input",
    "output": "output",
    "audio_input": "audio input",
    "audio_output": "audio output",
    "web_search": "web search tool calls",
}
_TOKEN_TYPE = {
    "input": "uncached_input_tokens",
    "output": "output_tokens",
    "cached_input": "cache_read_input_tokens",
    "cache_write_5m": "cache_creation.ephemeral_5m_input_tokens",
    "cache_write_1h": "cache_creation.ephemeral_1h_input_tokens",
}
Group = tuple[tuple[str, str], ...]


def _json(value: Any) -> web.Response:
    def default(item: Any) -> Any:
        if isinstance(item, Decimal):
            return orjson.Fragment(format(item, "f"))
        raise TypeError(type(item).__name__)

    return web.Response(body=orjson.dumps(value, default=default), content_type="application/json")


def usd(billing: Billing, provider: str, model: str, category: str, tokens: int) -> Decimal:
    """What the simulated provider bills for ``tokens`` of ``category`` (USD, exact)."""
    from ledgerlm.ledger.reconcile.rates import category_usage
    from ledgerlm.pricing import compile_price

    custom = billing.custom_rate(model, category)
    if custom is not None:
        amount = custom * tokens / 1_000_000
    else:
        usage = category_usage(category, tokens)
        cost = compile_price(provider, model).cost(usage) if usage is not None and tokens else None
        breakdown = {} if cost is None else cost.breakdown
        amount = sum((v for k, v in breakdown.items() if k != "request"), Decimal(0))
    return amount * billing.price_factor(model)


def _days(low: datetime, high: datetime) -> list[date]:
    first, days = low.date(), []
    while datetime.combine(first, datetime.min.time(), UTC) < high:
        days.append(first)
        first += timedelta(days=1)
    return days


def _group(call: BilledCall, fields: list[str]) -> Group:
    values = {
        "model": call.model,
        "api_key_id": call.api_key_id,
        "project_id": "proj_sim",
        "workspace_id": "wrkspc_sim",
    }
    return tuple((name, values[name]) for name in fields if name in values)


def _sums(calls: list[BilledCall], fields: list[str]) -> dict[tuple[date, Group], dict[str, int]]:
    sums: dict[tuple[date, Group], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for call in calls:
        bucket = sums[(call.day, _group(call, fields))]
        bucket["num_model_requests"] += call.requests
        for category, tokens in call.counts.items():
            bucket[category] += tokens
    return sums


def _page(
    request: web.Request, buckets: list[dict[str, Any]], billing: Billing, max_limit: int
) -> dict[str, Any]:
    limit = min(max_limit, int(request.query.get("limit", "7")))
    size = int(billing.knobs.get("page_size", limit))
    offset = int(request.query.get("page", "page_0").removeprefix("page_") or 0)
    more = offset + size < len(buckets)
    return {
        "data": buckets[offset : offset + size],
        "has_more": more,
        "next_page": f"page_{offset + size}" if more else None,
    }


def _group_by(request: web.Request) -> list[str]:
    return [*request.query.getall("group_by", []), *request.query.getall("group_by[]", [])]


def _window_epoch(request: web.Request) -> tuple[datetime, datetime]:
    low = datetime.fromtimestamp(int(request.query["start_time"]), UTC)
    high = datetime.fromtimestamp(int(request.query.get("end_time", datetime.now(UTC).timestamp())), UTC)
    return low, high


def _window_rfc3339(request: web.Request) -> tuple[datetime, datetime]:
    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)

    low = parse(request.query["starting_at"])
    return low, parse(request.query["ending_at"]) if "ending_at" in request.query else datetime.now(UTC)


def _openai_cost_results(
    billing: Billing, sums: dict[Group, dict[str, int]], by_item: bool
) -> list[dict[str, Any]]:
    results = []
    total = Decimal(0)
    for group, counts in sorted(sums.items()):
        fields = dict(group)
        for category, tokens in counts.items():
            if category not in _LINE_ITEM or not tokens:
                continue
            amount = usd(billing, "openai", fields["model"], category, tokens)
            total += amount
            if by_item:
                item = f"{fields['model']}, {_LINE_ITEM[category]}"
                results.append(
                    {
                        "object": "organization.costs.result",
                        "amount": {"value": amount, "currency": "usd"},
                        "line_item": item,
                        "project_id": fields.get("project_id"),
                    }
                )
    if not by_item and sums:
        results.append(
            {
                "object": "organization.costs.result",
                "amount": {"value": total, "currency": "usd"},
                "line_item": None,
                "project_id": None,
            }
        )
    return results


def _openai_usage_result(kind: str, fields: dict[str, str], counts: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "object": f"organization.usage.{kind}.result",
        "input_tokens": counts.get("input", 0) + counts.get("cached_input", 0),
        "num_model_requests": counts["num_model_requests"],
    }
    if kind == "completions":
        out.update(
            input_cached_tokens=counts.get("cached_input", 0),
            output_tokens=counts.get("output", 0),
            input_audio_tokens=counts.get("audio_input", 0),
            output_audio_tokens=counts.get("audio_output", 0),
            batch=None,
        )
    for name in ("project_id", "user_id", "api_key_id", "model"):
        out[name] = fields.get(name)
    return out


def _openai_buckets(
    request: web.Request,
    state: SimState,
    make: Callable[[list[BilledCall], list[str]], dict[date, list[dict[str, Any]]]],
) -> list[dict[str, Any]]:
    low, high = _window_epoch(request)
    per_day = make(state.billing.snapshot("openai"), _group_by(request))
    out = []
    for day in _days(low, high):
        start = datetime.combine(day, datetime.min.time(), UTC)
        out.append(
            {
                "object": "bucket",
                "start_time": int(start.timestamp()),
                "end_time": int((start + timedelta(days=1)).timestamp()),
                "results": per_day.get(day, []),
            }
        )
    return out


def _refused(state: SimState, request: web.Request) -> web.Response | None:
    """Log the request; a 401 without a Bearer key, a 429 while ``fail_first`` lasts, else ``None``."""
    state.log(request, None)
    if not _authorized_bearer(request):
        return error_response(401, "admin key required (simulated)")
    if state.billing.take_failure():
        return error_response(429, retry_after=0)
    if "start_time" not in request.query:
        return error_response(400, "start_time is required")
    return None


def _authorized_bearer(request: web.Request) -> bool:
    return (
        request.headers.get("Authorization", "").startswith("Bearer ")
        and len(request.headers["Authorization"]) > 7
    )


def openai_routes(state: SimState) -> list[web.RouteDef]:
    """``/v1/organization/costs`` and ``/v1/organization/usage/{kind}``."""

    async def costs(request: web.Request) -> web.Response:
        refused = _refused(state, request)
        if refused is not None:
            return refused
        by_item = "line_item" in _group_by(request)

        def make(calls: list[BilledCall], fields: list[str]) -> dict[date, list[dict[str, Any]]]:
            sums = _sums(calls, ["model", *(f for f in fields if f == "project_id")])
            days: dict[date, dict[Group, dict[str, int]]] = defaultdict(dict)
            for (day, group), counts in sums.items():
                days[day][group] = counts
            return {day: _openai_cost_results(state.billing, groups, by_item) for day, groups in days.items()}

        buckets = _openai_buckets(request, state, make)
        return _json({"object": "page", **_page(request, buckets, state.billing, 180)})

    async def usage(request: web.Request) -> web.Response:
        refused = _refused(state, request)
        if refused is not None:
            return refused
        kind = request.match_info["kind"]

        def make(calls: list[BilledCall], fields: list[str]) -> dict[date, list[dict[str, Any]]]:
            chosen = [c for c in calls if c.endpoint == kind]
            out: dict[date, list[dict[str, Any]]] = defaultdict(list)
            for (day, group), counts in sorted(_sums(chosen, fields).items()):
                out[day].append(_openai_usage_result(kind, dict(group), counts))
            return out

        buckets = _openai_buckets(request, state, make)
        return _json({"object": "page", **_page(request, buckets, state.billing, 31)})

    return [web.get("/v1/organization/costs", costs), web.get("/v1/organization/usage/{kind}", usage)]


def routes(state: SimState) -> list[web.RouteDef]:
    """The OpenAI and Anthropic admin report routes bound to ``state``."""
    from ledgerlm.simulator import admin_anthropic

    return [*openai_routes(state), *admin_anthropic.routes(state)]
