"""``GET /model/info`` (also ``/v1/model/info``) and ``GET /model_group/info``: the deployments and
model groups a key may use, in LiteLLM's response shapes, with each deployment's routing health.

* ``/model/info`` -> ``{"data": [{"model_name", "litellm_params", "model_info"}]}``; ``litellm_params``
  never carries ``api_key`` (nor any other secret key: ``*_key``, ``*secret*``, ``*token*``);
  ``model_info`` holds the configured ``model_info`` plus ``id``, ``db_model: false``,
  ``litellm_provider``, ``mode``, ``input_cost_per_token``/``output_cost_per_token`` (USD, the price
  the ledger uses; absent when unpriced) and the routing state: ``health`` (``healthy`` |
  ``cooldown``), ``cooldown_remaining_s``, ``in_flight``, ``current_rpm``, ``current_tpm``. Query
  ``litellm_model_id`` keeps one deployment.
* ``/model_group/info`` -> ``{"data": [{"model_group", "providers", "mode", "rpm", "tpm",
  "input_cost_per_token", "output_cost_per_token", "is_wildcard", "healthy_deployments",
  "deployments": [{"id", "health", "cooldown_remaining_s"}]}]}``; query ``model_group`` keeps one.

A virtual key sees only the models its ``models`` (and its team's) allow; 401 without a key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm.errors import LedgerLMError
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.http import error_response, json_response
from ledgerlm.proxy.state import ProxyState
from ledgerlm.routing import Entry
from ledgerlm.routing.groups import is_wildcard
from ledgerlm.routing.state import Stats
from ledgerlm.types import Usage

__all__ = ["public_params", "routes"]

_SECRET_HINTS = ("key", "secret", "token", "password", "credential")


def public_params(entry: Entry) -> dict[str, Any]:
    """A deployment's ``litellm_params`` as shown to callers: no ``api_key`` nor any other secret."""
    d = entry.deployment
    params: dict[str, Any] = {
        "model": f"{d.provider}/{d.model}",
        "api_base": d.api_base,
        "api_version": d.api_version,
    }
    params.update({k: v for k, v in d.extra.items() if not any(h in k.lower() for h in _SECRET_HINTS)})
    for name in ("rpm", "tpm", "weight", "stream_timeout", "max_retries"):
        if getattr(entry, name) is not None:
            params[name] = getattr(entry, name)
    if d.timeout is not None:
        params["timeout"] = d.timeout
    return {k: v for k, v in params.items() if v is not None}


def _prices(entry: Entry) -> dict[str, Any]:
    """Per-token input/output USD of the compiled price (empty when unpriced)."""
    from ledgerlm.engine import compiled_price

    try:
        price = compiled_price(entry.deployment)
        one_in = price.cost(Usage(input_tokens=1), at=datetime.now(UTC)).total
        one_out = price.cost(Usage(output_tokens=1), at=datetime.now(UTC)).total
    except Exception:
        return {}
    if one_in is None or one_out is None:
        return {}
    return {"input_cost_per_token": _usd(one_in), "output_cost_per_token": _usd(one_out)}


def _usd(value: Decimal) -> orjson.Fragment:
    """USD as a JSON number with the Decimal's exact digits (never a float, never a string)."""
    text = format(value.normalize(), "f")
    return orjson.Fragment(text if text not in ("-0", "") else "0")


def _health(stats: Stats) -> dict[str, Any]:
    return {
        "health": "cooldown" if stats.cooldown_s > 0 else "healthy",
        "cooldown_remaining_s": round(stats.cooldown_s, 3),
        "in_flight": stats.busy,
        "current_rpm": stats.rpm,
        "current_tpm": stats.tpm,
    }


def _model_info(entry: Entry, stats: Stats) -> dict[str, Any]:
    info = {k: v for k, v in entry.model_info.items() if not any(h in k.lower() for h in _SECRET_HINTS)}
    info.update(
        {
            "id": entry.id,
            "db_model": False,
            "litellm_provider": entry.deployment.provider,
            "mode": "chat",
            "access_groups": list(entry.access_groups),
            **_prices(entry),
            **_health(stats),
        }
    )
    return info


async def _caller(request: Request) -> KeyContext | Response:
    state: ProxyState = request.app.state.proxy
    try:
        return await state.auth.authenticate(request.headers)
    except LedgerLMError as exc:
        return error_response(exc)


def _visible(state: ProxyState, key: KeyContext, name: str) -> bool:
    groups = state.router.groups
    return groups.allowed(key.models, name) and groups.allowed(key.team_models, name)


async def model_info(request: Request) -> Response:
    """``GET /model/info`` (module docstring)."""
    key = await _caller(request)
    if isinstance(key, Response):
        return key
    state: ProxyState = request.app.state.proxy
    wanted = request.query_params.get("litellm_model_id")
    entries = [
        e
        for e in state.router.groups.all_entries()
        if _visible(state, key, e.model_name) and (wanted is None or e.id == wanted)
    ]
    stats = await state.router.stats(entries)
    data = [
        {
            "model_name": e.model_name,
            "litellm_params": public_params(e),
            "model_info": _model_info(e, stats[e.id]),
        }
        for e in entries
    ]
    return json_response({"data": data})


def _group(name: str, entries: list[Entry], stats: dict[str, Stats]) -> dict[str, Any]:
    limits = {f: [getattr(e, f) for e in entries] for f in ("rpm", "tpm")}
    deployments = [
        {
            "id": e.id,
            **{k: v for k, v in _health(stats[e.id]).items() if k in ("health", "cooldown_remaining_s")},
        }
        for e in entries
    ]
    return {
        "model_group": name,
        "providers": sorted({e.deployment.provider for e in entries}),
        "mode": "chat",
        "rpm": sum(v for v in limits["rpm"] if v) or None,
        "tpm": sum(v for v in limits["tpm"] if v) or None,
        **(_prices(entries[0]) if entries else {}),
        "is_wildcard": is_wildcard(name),
        "healthy_deployments": sum(1 for d in deployments if d["health"] == "healthy"),
        "deployments": deployments,
    }


async def model_group_info(request: Request) -> Response:
    """``GET /model_group/info`` (module docstring)."""
    key = await _caller(request)
    if isinstance(key, Response):
        return key
    state: ProxyState = request.app.state.proxy
    wanted = request.query_params.get("model_group")
    groups = state.router.groups
    by_name: dict[str, list[Entry]] = {}
    for entry in groups.all_entries():
        by_name.setdefault(entry.model_name, []).append(entry)
    names = [n for n in by_name if (wanted is None or n == wanted) and _visible(state, key, n)]
    stats = await state.router.stats([e for n in names for e in by_name[n]])
    return json_response({"data": [_group(n, by_name[n], stats) for n in names]})


def routes() -> list[Route]:
    """``/model/info``, ``/v1/model/info``, ``/model_group/info``."""
    return [
        Route("/model/info", model_info, methods=["GET"]),
        Route("/v1/model/info", model_info, methods=["GET"]),
        Route("/model_group/info", model_group_info, methods=["GET"]),
    ]
