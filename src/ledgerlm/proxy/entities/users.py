"""Internal users beyond ``/user/new`` and ``/user/info`` (LiteLLM paths): ``POST /user/update`` (``user_id``
plus the fields to change), ``POST /user/delete`` (``{"user_ids"}``), ``GET
/user/list?page=&page_size=&role=&user_ids=&organization_id=`` -> ``{users, total, page, page_size,
total_pages}``.

Deleting a user keeps its keys (they become keys without a user) and every spend row. A role change
reaches cached keys at once (the key cache is dropped).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import Field
from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError, NotFoundError
from ledgerlm.proxy import management_models as mm
from ledgerlm.proxy import roles
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.key_events import ALL_KEYS
from ledgerlm.proxy.management import invalidate, managed, no_null_lists, read_body, sent_fields
from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.tiers import apply_tier
from ledgerlm.store import tables, users

__all__ = ["routes"]

MAX_PAGE_SIZE = 1000


class UserUpdate(mm.UserNew):
    """``/user/update``: ``user_id`` (or ``user_email``) and the fields to change."""

    user_id: str | None = Field(default=None, min_length=1)


@managed()
async def user_update(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /user/update`` -> the user row (404 for an unknown user)."""
    req = mm.parse_body(UserUpdate, await read_body(request))
    user_id = req.user_id or await _by_email(state, req.user_email)
    existing = await users.get_user(state.store.engine, user_id)
    if existing is None:
        raise NotFoundError(f"user {user_id!r} does not exist", param="user_id", code="user_not_found")
    roles.check_user_write(ctx, existing.get("organization_id"), req.user_role)
    if "organization_id" in req.model_fields_set:
        roles.check_user_write(ctx, req.organization_id, req.user_role)
    exclude = {"user_id", "auto_create_key", "key_alias", "duration"}
    fields = await apply_tier(state, tables.users, no_null_lists(sent_fields(req, exclude=exclude)))
    row = await users.update_user(state.store.engine, user_id, fields) if fields else existing
    await invalidate(state, ALL_KEYS)
    return row


async def _by_email(state: ProxyState, email: str | None) -> str:
    if not email:
        raise BadRequestError("user_id (or user_email) is required", param="user_id")
    rows = await users.list_users(state.store.engine, user_email=email, limit=2)
    if len(rows) != 1:
        raise NotFoundError(f"no single user with email {email!r}", param="user_email", code="user_not_found")
    return str(rows[0]["user_id"])


@managed()
async def user_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /user/delete`` ``{"user_ids"}`` -> ``{"deleted_users": [...]}`` (none found: 404)."""
    ids = (await read_body(request)).get("user_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise BadRequestError("user_ids: a non-empty list of user ids is required", param="user_ids")
    deleted = [u for u in ids if await users.delete_user(state.store.engine, u)]
    if not deleted:
        raise NotFoundError("no such user", param="user_ids", code="user_not_found")
    await invalidate(state, ALL_KEYS)
    return {"deleted_users": deleted}


def _int(request: Request, name: str, default: int, hi: int) -> int:
    raw = request.query_params.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer", param=name) from None
    if not 1 <= value <= hi:
        raise BadRequestError(f"{name} must be between 1 and {hi}", param=name)
    return value


@managed()
async def user_list(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /user/list`` -> ``{users, total, page, page_size, total_pages}`` (oldest first)."""
    page = _int(request, "page", 1, 10**9)
    size = _int(request, "page_size", 25, MAX_PAGE_SIZE)
    q = request.query_params
    table = tables.users
    conditions = []
    if q.get("role"):
        conditions.append(table.c.user_role == q["role"])
    if q.get("organization_id"):
        conditions.append(table.c.organization_id == q["organization_id"])
    if q.get("user_ids"):
        conditions.append(table.c.user_id.in_([u for u in q["user_ids"].split(",") if u]))
    query = sa.select(table).where(*conditions).order_by(table.c.created_at, table.c.user_id)
    count = sa.select(sa.func.count()).select_from(table).where(*conditions)
    async with state.store.engine.connect() as conn:
        total = int((await conn.execute(count)).scalar_one())
        rows = [dict(r) for r in (await conn.execute(query.limit(size).offset((page - 1) * size))).mappings()]
    return {"users": rows, "total": total, "page": page, "page_size": size, "total_pages": -(-total // size)}


def routes() -> list[Route]:
    """``/user/update``, ``/user/delete``, ``/user/list``."""
    return [
        Route("/user/update", user_update, methods=["POST"]),
        Route("/user/delete", user_delete, methods=["POST"]),
        Route("/user/list", user_list, methods=["GET"]),
    ]
