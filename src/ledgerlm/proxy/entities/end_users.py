"""End users (LiteLLM "customers"), under both of LiteLLM's prefixes, ``/customer/*`` and ``/end_user/*``:
``POST new|update|delete|block|unblock``, ``GET info?end_user_id=``, ``GET list``.

Bodies (LiteLLM ``NewCustomerRequest`` / ``UpdateCustomerRequest``): ``user_id``, ``alias``, ``blocked``,
``max_budget``/``soft_budget`` (USD), ``budget_duration``, ``budget_id`` (a tier), ``tpm_limit`` /
``rpm_limit`` (per minute, enforced on every call carrying this end user, whichever key sent it),
``allowed_model_region``, ``default_model``, ``metadata``. ``delete``/``block``/``unblock`` take
``{"user_ids": [...]}``. Rows carry ``litellm_budget_table`` (the limits, as LiteLLM nests them).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError, NotFoundError
from ledgerlm.proxy import management_models as mm
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.management import managed, no_null_lists, page_params, read_body, sent_fields
from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.tiers import TIER_FIELDS, apply_tier
from ledgerlm.store import customers, tables

__all__ = ["customer_out", "routes"]


class EndUserIds(BaseModel):
    """``{"user_ids": [...]}`` of delete / block / unblock."""

    model_config = ConfigDict(extra="ignore")

    user_ids: list[str] = Field(min_length=1)


def customer_out(row: dict[str, Any]) -> dict[str, Any]:
    """An end-user row with LiteLLM's nested ``litellm_budget_table``."""
    budget = {name: row.get(name) for name in TIER_FIELDS}
    return {**row, "litellm_budget_table": {**budget, "budget_id": row.get("budget_id")}}


async def _fields(state: ProxyState, req: mm.CustomerNew) -> dict[str, Any]:
    fields = no_null_lists(sent_fields(req, exclude={"user_id"}))
    return await apply_tier(state, tables.end_users, fields)


@managed()
async def end_user_new(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /customer/new`` -> the end user (an existing ``user_id`` is a 400)."""
    req = mm.parse_body(mm.CustomerNew, await read_body(request))
    return customer_out(
        await customers.create_customer(state.store.engine, req.user_id, await _fields(state, req))
    )


@managed()
async def end_user_update(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /customer/update``: change the fields sent (404 for an unknown ``user_id``)."""
    req = mm.parse_body(mm.CustomerNew, await read_body(request))
    fields = await _fields(state, req)
    row = await customers.update_customer(state.store.engine, req.user_id, fields) if fields else None
    row = row or await customers.get_customer(state.store.engine, req.user_id)
    if row is None:
        raise _not_found(req.user_id)
    _invalidate_limits(state)
    return customer_out(row)


def _invalidate_limits(state: ProxyState) -> None:
    """Admission reads end-user limits through a short cache: drop it so a change applies at once."""
    limits = getattr(state.admission, "limits", None)
    if limits is not None and hasattr(limits, "invalidate"):
        limits.invalidate()


def _not_found(user_id: str) -> NotFoundError:
    return NotFoundError(f"end user {user_id!r} does not exist", param="user_id", code="end_user_not_found")


@managed()
async def end_user_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /customer/delete`` ``{"user_ids"}`` -> ``{"deleted_customers": [...]}`` (none found: 404)."""
    req = mm.parse_body(EndUserIds, await read_body(request))
    deleted = [u for u in req.user_ids if await customers.delete_customer(state.store.engine, u)]
    if not deleted:
        raise _not_found(req.user_ids[0])
    return {"deleted_customers": deleted}


async def _set_blocked(request: Request, state: ProxyState, blocked: bool) -> dict[str, Any]:
    req = mm.parse_body(EndUserIds, await read_body(request))
    engine = state.store.engine
    for user_id in req.user_ids:  # LiteLLM creates unknown end users when blocking them
        if await customers.update_customer(engine, user_id, {"blocked": blocked}) is None:
            await customers.create_customer(engine, user_id, {"blocked": blocked})
    _invalidate_limits(state)
    return {"blocked_users" if blocked else "unblocked_users": req.user_ids}


@managed()
async def end_user_block(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /customer/block`` ``{"user_ids"}``: their calls are refused (403) from now on."""
    return await _set_blocked(request, state, True)


@managed()
async def end_user_unblock(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /customer/unblock`` ``{"user_ids"}``."""
    return await _set_blocked(request, state, False)


@managed()
async def end_user_info(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /customer/info?end_user_id=`` (``user_id`` accepted too); adds ``budget_forecast`` (the
    burn-rate forecast of its budget, ``null`` without ``max_budget``; issue 23)."""
    q = request.query_params
    user_id = q.get("end_user_id") or q.get("user_id")
    if not user_id:
        raise BadRequestError("query parameter 'end_user_id' is required", param="end_user_id")
    row = await customers.get_customer(state.store.engine, user_id)
    if row is None:
        raise _not_found(user_id)
    from ledgerlm.proxy.spend_alert_routes import budget_forecast  # issue 23: burn-rate forecast

    return {**customer_out(row), "budget_forecast": await budget_forecast(state, "end_user", row)}


@managed()
async def end_user_list(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /customer/list?page=&size=`` -> a list of end users (LiteLLM returns a plain list)."""
    page, size = page_params(request)
    rows = await customers.list_customers(state.store.engine, limit=size, offset=(page - 1) * size)
    return [customer_out(r) for r in rows]


def routes() -> list[Route]:
    """Every end-user route under ``/customer`` and ``/end_user``."""
    out: list[Route] = []
    for prefix in ("/customer", "/end_user"):
        out += [
            Route(f"{prefix}/new", end_user_new, methods=["POST"]),
            Route(f"{prefix}/update", end_user_update, methods=["POST"]),
            Route(f"{prefix}/delete", end_user_delete, methods=["POST"]),
            Route(f"{prefix}/block", end_user_block, methods=["POST"]),
            Route(f"{prefix}/unblock", end_user_unblock, methods=["POST"]),
            Route(f"{prefix}/info", end_user_info, methods=["GET"]),
            Route(f"{prefix}/list", end_user_list, methods=["GET"]),
        ]
    return out
