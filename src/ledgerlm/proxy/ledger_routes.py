"""Ledger admin routes (master key only) and the price book sync at start-up.

* ``POST /period/close`` body ``{"period": "2026-11", "note": "..."}`` -> 200 ``{"period", "status":
  "closed", "closed_at", "closed_by", "note", "checksum"}``; 400 for a malformed month or one not yet
  over; 409 ``period_closed`` when already closed. There is no reopen route.
* ``GET /period/list`` -> ``{"data": [closed periods, newest first]}``.
* ``record_deployment_prices(state)``: the prices of every configured deployment recorded in the price
  book (``ledgerlm.store.price_book.record_prices``): a custom price changed in the config opens a new
  entry at start-up.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError
from ledgerlm.ledger.periods import close_period, list_periods, parse_period
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.http import read_json_body
from ledgerlm.proxy.management import MAX_MANAGEMENT_BODY, managed
from ledgerlm.proxy.state import ProxyState

__all__ = ["record_deployment_prices", "routes"]

log = logging.getLogger("ledgerlm.proxy")


@managed()
async def period_close(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /period/close`` (see the module docstring)."""
    body = await read_json_body(request, MAX_MANAGEMENT_BODY, forbid_nul=True)
    period, note = body.get("period"), body.get("note")
    if not isinstance(period, str):
        raise BadRequestError("period is required (YYYY-MM)", param="period")
    if note is not None and not isinstance(note, str):
        raise BadRequestError("note must be a string", param="note")
    try:
        parse_period(period)
    except ValueError as exc:
        raise BadRequestError(str(exc), param="period") from None
    actor = ctx.key_alias or ctx.user_id or ("master key" if ctx.is_admin else "unknown")
    return await close_period(state.store.engine, period, actor=actor, note=note)


@managed()
async def period_list(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /period/list`` (see the module docstring)."""
    return {"data": await list_periods(state.store.engine)}


def routes() -> list[Route]:
    """The ledger admin routes."""
    return [
        Route("/period/close", period_close, methods=["POST"]),
        Route("/period/list", period_list, methods=["GET"]),
    ]


async def record_deployment_prices(state: ProxyState) -> None:
    """Record every deployment's compiled price in the price book; a failure is logged, never fatal
    (the spend rows still carry their ``price_id``)."""
    from ledgerlm.store.price_book import record_prices

    prices = [
        deployment.price
        for group in state.registry.groups.values()
        for deployment in group.deployments
        if getattr(deployment, "price", None) is not None
    ]
    try:
        engine = state.store.engine
    except (AttributeError, RuntimeError):  # no database (route unit tests)
        return
    try:
        opened = await record_prices(engine, prices)
    except Exception:
        log.exception("could not record the deployments' prices in the price book")
        return
    for entry in opened:
        log.info("price book: %s now priced by %s (%s)", entry.model, entry.price_id, entry.source)
