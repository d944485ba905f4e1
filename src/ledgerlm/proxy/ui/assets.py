"""The dashboard's static files (``ledgerlm/proxy/ui/static``, shipped in the package: no CDN, works
offline): ``GET /ui`` -> ``/ui/``, ``GET /ui/`` and ``GET /login`` -> ``index.html``,
``GET /ui/static/<file>`` and ``/ui/static/vendor/<file>`` -> that file (only files inside
``static``; 404 otherwise).

Every answer carries ``Content-Security-Policy`` (scripts and data from this origin only, no framing),
``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

__all__ = ["STATIC_DIR", "routes"]

STATIC_DIR = Path(__file__).with_name("static")
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".png": "image/png"}


def _file(path: Path) -> Response:
    media = _TYPES.get(path.suffix, "text/plain")
    return FileResponse(path, media_type=media, headers=SECURITY_HEADERS)


async def index(request: Request) -> Response:
    """``GET /ui/`` and ``GET /login``: the single page (it asks ``/ui/api/me`` who is logged in)."""
    return _file(STATIC_DIR / "index.html")


async def to_index(request: Request) -> Response:
    """``GET /ui`` -> 307 ``/ui/``."""
    return RedirectResponse("/ui/", status_code=307)


async def static_file(request: Request) -> Response:
    """``GET /ui/static/<name>`` and ``/ui/static/vendor/<name>``: a file under ``static`` (no traversal
    out of it), else 404."""
    name = str(request.path_params.get("name", ""))
    if request.url.path.startswith("/ui/static/vendor/"):
        name = f"vendor/{name}"
    root = STATIC_DIR.resolve()
    target = (root / name).resolve()
    if root not in target.parents or not target.is_file() or target.suffix not in _TYPES:
        return Response("not found", status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)
    return _file(target)


def routes() -> list[Route]:
    """The static routes."""
    return [
        Route("/ui", to_index, methods=["GET"]),
        Route("/ui/", index, methods=["GET"]),
        Route("/login", index, methods=["GET"]),
        Route("/ui/static/{name}", static_file, methods=["GET"]),
        Route("/ui/static/vendor/{name}", static_file, methods=["GET"]),
    ]
