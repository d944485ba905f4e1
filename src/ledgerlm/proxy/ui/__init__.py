"""The admin dashboard served by the proxy at ``/ui`` (issue 21; docs/dashboard.md).

* ``assets``: the single page and its static files (vanilla JS, uPlot vendored; no CDN);
* ``login``: ``POST /login`` (master key, a user's key, or username/password), ``POST /logout``,
  ``GET /ui/api/me``; ``session``: the signed ``HttpOnly; SameSite=Strict`` cookie;
* ``roles``: what each role may read and change (the one place that decides);
* ``api``: overview (rollups only) and logs (keyset pages) with a row's detail;
* ``entities``: keys, teams, users, end users, budgets, models, other features' pages;
* ``writes``: create / edit / block / regenerate through the management routes.
"""

from __future__ import annotations

from starlette.routing import Route

__all__ = ["routes"]


def routes() -> list[Route]:
    """Every dashboard route."""
    from ledgerlm.proxy.ui import api, assets, entities, login, writes

    return [
        *assets.routes(),
        Route("/login", login.login, methods=["POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Route("/ui/api/me", login.me, methods=["GET"]),
        *api.routes(),
        *entities.routes(),
        *writes.routes(),
    ]
