"""``GET /ui/api/models``: the model groups page, one row per deployment with the router's live state.

Each row: ``model_group``, ``deployment_id``, ``provider``, ``model``, ``api_base`` (never credentials),
``priced`` (``custom`` | ``catalog``) and, from the router (the same figures as ``GET /model/info``):
``health`` (``healthy`` | ``cooldown``), ``cooldown_remaining_s`` (seconds), ``in_flight`` (calls),
``current_rpm`` / ``current_tpm`` (this minute). ``{"data": [...], "healthy": n, "cooling_down": n}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.ui.guard import ui_handler
from ledgerlm.proxy.ui.session import Principal

__all__ = ["list_models", "routes"]


@ui_handler("models")
async def list_models(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``GET /ui/api/models`` (module docstring)."""
    entries = list(state.router.groups.all_entries())
    stats = await state.router.stats(entries)
    rows = []
    for entry in entries:
        deployment, live = entry.deployment, stats[entry.id]
        rows.append(
            {
                "model_group": entry.model_name,
                "deployment_id": entry.id,
                "provider": deployment.provider,
                "model": deployment.model,
                "api_base": deployment.api_base,
                "priced": "custom" if deployment.price is not None else "catalog",
                "health": "cooldown" if live.cooldown_s > 0 else "healthy",
                "cooldown_remaining_s": round(live.cooldown_s, 3),
                "in_flight": live.busy,
                "current_rpm": live.rpm,
                "current_tpm": live.tpm,
            }
        )
    cooling = sum(1 for row in rows if row["health"] == "cooldown")
    return {"data": rows, "healthy": len(rows) - cooling, "cooling_down": cooling}


def routes() -> list[Route]:
    return [Route("/ui/api/models", list_models, methods=["GET"])]
