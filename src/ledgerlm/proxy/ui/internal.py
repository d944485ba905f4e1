"""In-process calls from the dashboard to the proxy's own routes (no network, no second copy of the
management logic): ``await call_route(request, "POST", "/key/generate", body)``.

The dashboard checks the person's role first (``ledgerlm.proxy.ui.roles``), then calls the route with the
master key, so validation, cache invalidation and events are the management API's own. ``has_route``
tells whether a route exists at all (pages of features not installed show "not available").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Message

__all__ = ["call_route", "has_route"]


def has_route(request: Request, path: str, method: str = "GET") -> bool:
    """Whether the app serves ``method path`` (exact path match)."""
    for route in request.app.routes:
        if isinstance(route, Route) and route.path == path and method in (route.methods or ()):
            return True
    return False


async def _asgi(request: Request, method: str, path: str, query: str, body: bytes) -> tuple[int, bytes]:
    """Run one HTTP request through this app (ASGI, in process); ``(status, body bytes)``."""
    master = request.app.state.proxy.auth.master_key
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if master:
        headers.append((b"authorization", f"Bearer {master}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": ("ledgerlm.internal", 80),
        "app": request.app,
    }
    sent = False
    status = 500
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await request.app(scope, receive, send)
    return status, b"".join(chunks)


async def call_route(
    request: Request,
    method: str,
    path: str,
    body: Any = None,
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """``(status, parsed JSON body)`` of ``method path`` on this app, as the master key."""
    content = b"" if body is None else orjson.dumps(body)
    status, raw = await _asgi(request, method, path, urlencode(params or {}), content)
    try:
        return status, orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        return status, {"error": {"message": raw.decode("utf-8", "replace")[:500]}}
