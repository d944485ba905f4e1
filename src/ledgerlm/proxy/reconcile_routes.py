"""Admin routes over stored reconciliation runs (master key only):

* ``GET /reconcile/runs?provider=&limit=`` -> ``{"data": [run without rows, newest first]}``;
* ``GET /reconcile/runs/{id}`` -> ``{id, provider, from, to, ledger_usd, provider_usd, capture_rate,
  status, created_at, tolerance, rows: [...]}`` (404 ``reconcile_run_not_found`` when unknown).

Money and rates are JSON numbers with their exact digits (``ledgerlm.ledger.reconcile.model.dumps``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm.errors import BadRequestError, NotFoundError
from ledgerlm.ledger.reconcile.model import dumps
from ledgerlm.ledger.reconcile.runs import get_run, list_runs
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.management import managed
from ledgerlm.proxy.state import ProxyState

__all__ = ["routes"]


def _json(body: Any) -> Response:
    return Response(dumps(body, indent=False), media_type="application/json")


@managed()
async def runs(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /reconcile/runs``."""
    raw = request.query_params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise BadRequestError("limit must be an integer from 1 to 1000", param="limit")
    provider = request.query_params.get("provider") or None
    return _json({"data": await list_runs(state.store.engine, provider, int(raw))})


@managed()
async def one_run(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /reconcile/runs/{id}``."""
    found = await get_run(state.store.engine, request.path_params["run_id"])
    if found is None:
        raise NotFoundError("no such reconciliation run", param="id", code="reconcile_run_not_found")
    return _json(found)


def routes() -> list[Route]:
    """The reconcile routes."""
    return [
        Route("/reconcile/runs", runs, methods=["GET"]),
        Route("/reconcile/runs/{run_id}", one_run, methods=["GET"]),
    ]
