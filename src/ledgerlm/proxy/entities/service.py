"""Service routes (LiteLLM paths): ``GET /routes`` (every route the proxy serves: ``{"routes": [{"path",
"methods", "name"}]}``) and ``GET /active/callbacks`` (the loaded callbacks by name:
``{"litellm.callbacks": [...], "litellm.success_callback": [...], "litellm.failure_callback": [...],
"num_callbacks": n}``). Admins and admin viewers.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.management import managed
from ledgerlm.proxy.state import ProxyState

__all__ = ["routes"]


def _name(callback: Any) -> str:
    if isinstance(callback, str):
        return callback
    return (
        type(callback).__name__ if not callable(callback) or hasattr(callback, "__dict__") else str(callback)
    )


@managed()
async def list_routes(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /routes``."""
    out = []
    for route in request.app.routes:
        if isinstance(route, Route):
            methods = sorted(m for m in (route.methods or ()) if m != "HEAD")
            out.append({"path": route.path, "methods": methods, "name": route.name})
    return {"routes": out}


@managed()
async def active_callbacks(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /active/callbacks``: configured callback names (never their settings or secrets)."""
    settings = state.config.litellm_settings
    loaded = [_name(c) for c in [*state.callbacks.per_call, *state.callbacks.loggers]]
    return {
        "litellm.callbacks": [_name(c) for c in settings.callbacks or []],
        "litellm.success_callback": [_name(c) for c in settings.success_callback or []],
        "litellm.failure_callback": [_name(c) for c in settings.failure_callback or []],
        "loaded": list(dict.fromkeys(loaded)),
        "num_callbacks": len(loaded),
    }


def routes() -> list[Route]:
    """``/routes`` and ``/active/callbacks``."""
    return [
        Route("/routes", list_routes, methods=["GET"]),
        Route("/active/callbacks", active_callbacks, methods=["GET"]),
    ]
