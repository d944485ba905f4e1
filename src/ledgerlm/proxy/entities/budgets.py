"""Budget tiers (LiteLLM ``/budget/*``, ``LiteLLM_BudgetTable``): ``POST /budget/new``, ``POST
/budget/update``, ``POST /budget/info`` (``{"budgets": [ids]}``; ``GET ?budget_id=`` too), ``GET
/budget/list``, ``POST /budget/delete`` (``{"id": ...}``).

Fields: ``budget_id``, ``max_budget``/``soft_budget`` (USD), ``budget_duration``, ``tpm_limit``,
``rpm_limit``, ``max_parallel_requests``, ``model_max_budget``. A key, user or end user created or
updated with ``budget_id`` takes the tier's limits (copied onto its row, where admission reads them);
``/budget/update`` copies the new limits to every row of the tier. Fields the row sets itself win.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError, NotFoundError
from ledgerlm.proxy import management_models as mm
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.key_events import ALL_KEYS
from ledgerlm.proxy.management import invalidate, managed, read_body, sent_fields
from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.tiers import TIER_FIELDS
from ledgerlm.store import _crud, tables

__all__ = ["routes"]

_HOLDERS = (tables.verification_tokens, tables.users, tables.end_users)


class BudgetBody(mm.LimitFields):
    """``/budget/new`` and ``/budget/update``."""

    budget_id: str | None = None
    model_max_budget: dict[str, Any] | None = None


@managed()
async def budget_new(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /budget/new`` -> the tier row."""
    req = mm.parse_body(BudgetBody, await read_body(request))
    fields = sent_fields(req, exclude={"budget_id", "metadata"})
    fields["budget_id"] = req.budget_id or str(uuid.uuid4())
    return await _crud.create(state.store.engine, tables.budgets, fields)


@managed()
async def budget_update(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /budget/update`` (``budget_id`` required): the tier, and its limits on every holder."""
    req = mm.parse_body(BudgetBody, await read_body(request))
    if not req.budget_id:
        raise BadRequestError("budget_id is required", param="budget_id")
    fields = sent_fields(req, exclude={"budget_id", "metadata"})
    row = await _crud.update(state.store.engine, tables.budgets, req.budget_id, fields)
    if row is None:
        raise NotFoundError(
            f"budget {req.budget_id!r} does not exist", param="budget_id", code="budget_not_found"
        )
    limits = {k: v for k, v in fields.items() if k in TIER_FIELDS}
    if limits:
        async with state.store.engine.begin() as conn:
            for table in _HOLDERS:
                values = {k: v for k, v in limits.items() if k in table.c}
                await conn.execute(table.update().where(table.c.budget_id == req.budget_id).values(values))
        await invalidate(state, ALL_KEYS)
    return row


@managed()
async def budget_info(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /budget/info`` ``{"budgets": [ids]}`` (or ``GET ?budget_id=``) -> list of tier rows."""
    if request.method == "GET":
        ids = request.query_params.getlist("budget_id")
    else:
        ids = list((await read_body(request)).get("budgets") or [])
    if not ids or not all(isinstance(i, str) for i in ids):
        raise BadRequestError("budgets: a list of budget ids is required", param="budgets")
    rows = await _crud.get_many(state.store.engine, tables.budgets, ids)
    return [rows[i] for i in ids if i in rows]


@managed()
async def budget_list(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /budget/list`` -> every tier, oldest first."""
    return await _crud.list_rows(state.store.engine, tables.budgets, limit=10_000)


@managed()
async def budget_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /budget/delete`` ``{"id": ...}`` -> the deleted tier (holders keep their copied limits)."""
    body = await read_body(request)
    budget_id = body.get("id") or body.get("budget_id")
    if not isinstance(budget_id, str) or not budget_id:
        raise BadRequestError("id (the budget_id) is required", param="id")
    row = await _crud.get(state.store.engine, tables.budgets, budget_id)
    if row is None or not await _crud.delete(state.store.engine, tables.budgets, budget_id):
        raise NotFoundError(f"budget {budget_id!r} does not exist", param="id", code="budget_not_found")
    return row


def routes() -> list[Route]:
    """The ``/budget/*`` routes."""
    return [
        Route("/budget/new", budget_new, methods=["POST"]),
        Route("/budget/update", budget_update, methods=["POST"]),
        Route("/budget/info", budget_info, methods=["GET", "POST"]),
        Route("/budget/list", budget_list, methods=["GET"]),
        Route("/budget/delete", budget_delete, methods=["POST"]),
    ]
