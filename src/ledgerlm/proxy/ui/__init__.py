"""The admin dashboard served by the proxy at ``/ui`` (issue 21; docs/dashboard.md).

* ``assets``: the single page and its static files (vanilla JS, uPlot vendored; no CDN);
* ``login``: ``POST /login`` (master key, a user's key, or username/password; ``login_limit``: 5
  failures per username (30 per IP) in 5 minutes, then 429; shared through Redis when the proxy has it,
  ``login_limit_redis``), ``POST /logout``; ``session``: the signed ``HttpOnly; SameSite=Strict`` cookie;
  ``session_check``: every request re-checks it against the store (blocked key, deleted user, changed
  role), ``GET /ui/api/me``;
* ``roles``: what each role may read and change (the one place that decides);
* ``api``: overview (rollups only) and logs (keyset pages) with a row's detail;
* ``entities``: keys and teams (with budget forecasts), users, end users, budgets, other features'
  pages; ``models_page``: deployments with the router's health and cooldowns;
* ``writes``: create / edit / block / regenerate through the management routes.
"""

from __future__ import annotations

from starlette.routing import Route

__all__ = ["DASHBOARD_PATHS", "WRITE_PATHS", "routes"]

DASHBOARD_PATHS: tuple[str, ...] = (
    "/ui",
    "/ui/",
    "/login",
    "/logout",
    "/ui/static/{name}",
    "/ui/static/vendor/{name}",
    "/ui/api/me",
    "/ui/api/overview",
    "/ui/api/logs",
    "/ui/api/logs/detail",
    "/ui/api/keys",
    "/ui/api/teams",
    "/ui/api/users",
    "/ui/api/end_users",
    "/ui/api/budgets",
    "/ui/api/models",
    "/ui/api/feature",
)
WRITE_PATHS: tuple[str, ...] = (
    "/ui/api/keys/new",
    "/ui/api/keys/update",
    "/ui/api/keys/block",
    "/ui/api/keys/regenerate",
    "/ui/api/teams/new",
    "/ui/api/teams/update",
    "/ui/api/teams/block",
    "/ui/api/users/new",
    "/ui/api/end_users/new",
    "/ui/api/end_users/block",
)
"""The dashboard's ``POST`` routes (creates and edits; ``ledgerlm.proxy.ui.writes``)."""
DASHBOARD_PATHS = DASHBOARD_PATHS + WRITE_PATHS
"""Every dashboard path: no bearer key opens them; ``/ui/api/*`` need the session cookie and check the
person's role themselves (``ledgerlm.proxy.ui.roles``), so the management table lists them as public."""


def routes() -> list[Route]:
    """Every dashboard route."""
    from ledgerlm.proxy.ui import api, assets, entities, login, models_page, session_check, writes

    return [
        *assets.routes(),
        Route("/login", login.login, methods=["POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Route("/ui/api/me", session_check.me, methods=["GET"]),
        *api.routes(),
        *entities.routes(),
        *models_page.routes(),
        *writes.routes(),
    ]
