"""The dashboard's part of ``/openapi.json``: its pages, ``/login``/``/logout`` and ``/ui/api/*``
(session-cookie auth: ``ledgerlm_session``; a bearer key is never accepted there)."""

from __future__ import annotations

from typing import Any

from ledgerlm.proxy.ui import WRITE_PATHS

__all__ = ["dashboard_paths"]

_ERROR: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
_OBJECT: dict[str, Any] = {"type": "object"}
_SESSION: list[dict[str, list[str]]] = [{"session": []}]
_READS = {
    "/ui/api/me": ("The logged-in person: role, pages, writes", ()),
    "/ui/api/overview": (
        "Spend totals, daily series and groups (rollups)",
        ("start_date", "end_date", "dimension"),
    ),
    "/ui/api/logs": (
        "Spend logs, newest first, keyset pages",
        (
            "start_date",
            "end_date",
            "api_key",
            "team_id",
            "user_id",
            "model",
            "status",
            "tag",
            "request_id",
            "limit",
            "cursor",
        ),
    ),
    "/ui/api/logs/detail": ("One call: usage, cost breakdown, price, adjustments", ("request_id",)),
    "/ui/api/keys": ("Visible virtual keys", ()),
    "/ui/api/teams": ("Visible teams", ()),
    "/ui/api/users": ("Users (admins)", ()),
    "/ui/api/end_users": ("End users (admins)", ()),
    "/ui/api/budgets": ("Budget used vs limit with the reset date", ()),
    "/ui/api/models": ("Model groups and deployments", ()),
    "/ui/api/feature": (
        "Another feature's page (reconciliation, tag drift)",
        ("name", "run_id", "start_date", "end_date", "dimension"),
    ),
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "error", "content": _json(_ERROR)} for s in statuses}


def _api(summary: str, params: tuple[str, ...] = (), body: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": _SESSION,
        "responses": {"200": {"description": "OK", "content": _json(_OBJECT)}, **_errors(400, 401, 403, 404)},
    }
    if params:
        op["parameters"] = [
            {"name": p, "in": "query", "required": False, "schema": {"type": "string"}} for p in params
        ]
    if body:
        op["requestBody"] = {"required": True, "content": _json(_OBJECT)}
    return op


def _page(summary: str) -> dict[str, Any]:
    html = {"text/html": {"schema": {"type": "string"}}}
    return {
        "summary": summary,
        "security": [],
        "responses": {"200": {"description": "page", "content": html}},
    }


def _static() -> dict[str, Any]:
    text = {"schema": {"type": "string"}}
    types = ("text/javascript", "text/css", "text/html", "image/png", "text/plain")
    return {
        "summary": "A static file of the dashboard",
        "security": [],
        "parameters": [
            {
                "name": "name",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$"},
            }
        ],
        "responses": {
            "200": {"description": "file", "content": dict.fromkeys(types, text)},
            "404": {"description": "no such file", "content": {"text/plain": text, **_json(_ERROR)}},
        },
    }


def dashboard_paths() -> dict[str, Any]:
    """OpenAPI path items of the dashboard routes."""
    login_body = {
        "type": "object",
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
        "required": ["password"],
    }
    login = {
        "summary": "Dashboard log in (master key, a user's key, or username/password): session cookie",
        "security": [],
        "requestBody": {"required": True, "content": _json(login_body)},
        "responses": {
            "200": {"description": "logged in", "content": _json(_OBJECT)},
            **_errors(400, 401, 413),
        },
    }
    logout = {
        "summary": "Clear the session cookie",
        "security": [],
        "requestBody": {"required": False, "content": _json(_OBJECT)},
        "responses": {"200": {"description": "logged out", "content": _json(_OBJECT)}},
    }
    paths: dict[str, Any] = {
        "/ui": {
            "get": {
                **_page("The dashboard (redirects to /ui/)"),
                "responses": {"200": _page("")["responses"]["200"], "307": {"description": "to /ui/"}},
            }
        },
        "/ui/": {"get": _page("The dashboard (single page)")},
        "/login": {"get": _page("The log-in page"), "post": login},
        "/logout": {"post": logout},
        "/ui/static/{name}": {"get": _static()},
        "/ui/static/vendor/{name}": {"get": _static()},
    }
    paths.update({path: {"get": _api(summary, params)} for path, (summary, params) in _READS.items()})
    paths.update(
        {path: {"post": _api("Dashboard change (see docs/dashboard.md)", body=True)} for path in WRITE_PATHS}
    )
    return paths
