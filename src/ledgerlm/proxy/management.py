"""Management routes (LiteLLM paths and fields; master key only unless stated).

Keys: ``POST /key/generate``, ``GET /key/info`` (a key may read its own), ``POST /key/update``,
``POST /key/delete``, ``GET /key/list``. Teams: ``POST /team/new|update|delete``, ``GET /team/info``.
Users: ``POST /user/new``, ``GET /user/info``. End users: ``POST /customer/new``, ``GET /customer/info``.

A generated key is returned ONCE (``key``); the store keeps its SHA-256 hash (``token``). Updates and
deletes invalidate the key cache (team changes invalidate every cached key), on this instance at once
and on the others through ``ledgerlm.proxy.key_events`` (Redis) or within the cache TTL.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm.budgets.durations import with_reset_time
from ledgerlm.errors import BadRequestError, NotFoundError
from ledgerlm.proxy import management_models as mm
from ledgerlm.proxy.auth import KeyContext, generate_key, hash_key, require_admin
from ledgerlm.proxy.http import error_response, json_response, read_json_body, reject_nul
from ledgerlm.proxy.key_events import ALL_KEYS
from ledgerlm.proxy.state import ProxyState

__all__ = ["routes"]

Handler = Callable[[Request, ProxyState, KeyContext], Awaitable[Any]]
MAX_MANAGEMENT_BODY = 1024 * 1024


def managed(*, admin: bool = True) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler: authenticate (401), require the master key when ``admin`` (403), map errors."""

    def wrap(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(fn)
        async def handler(request: Request) -> Response:
            state: ProxyState = request.app.state.proxy
            try:
                ctx = await state.auth.authenticate(request.headers)
                if admin:
                    require_admin(ctx)
                reject_nul(dict(request.query_params.multi_items()), "query")
                result = await fn(request, state, ctx)
            except ValueError as exc:  # the store's unknown-field / already-exists errors
                return error_response(BadRequestError(str(exc), code="invalid_request"))
            except Exception as exc:
                return error_response(exc)
            return result if isinstance(result, Response) else json_response(result, any_keys=True)

        return handler

    return wrap


async def _body(request: Request) -> dict[str, Any]:
    return await read_json_body(request, MAX_MANAGEMENT_BODY, forbid_nul=True)


def _set(model: Any, *, exclude: set[str]) -> dict[str, Any]:
    """The fields the caller actually sent, minus ``exclude`` (a new ``budget_duration`` sets
    ``budget_reset_at``, the end of the first budget period)."""
    fields = {k: v for k, v in model.model_dump(exclude_unset=True).items() if k not in exclude}
    return with_reset_time(fields)


def _key_fields(req: mm.KeyGenerate, *, existing_metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    fields = _set(req, exclude={"tags", "duration", "key"})
    if req.tags is not None or "metadata" in fields:
        metadata = dict(fields.get("metadata") or existing_metadata or {})
        if req.tags is not None:
            metadata["tags"] = list(dict.fromkeys([*metadata.get("tags", []), *req.tags]))
        fields["metadata"] = metadata
    if "duration" in req.model_fields_set:
        fields["expires"] = mm.duration_to_expiry(req.duration)
    if "models" in fields and fields["models"] is None:
        fields["models"] = []
    return fields


async def _check_team(state: ProxyState, team_id: str | None) -> None:
    from ledgerlm.store import teams

    if team_id and await teams.get_team(state.store.engine, team_id) is None:
        raise BadRequestError(f"team {team_id!r} does not exist", param="team_id", code="team_not_found")


async def _invalidate(state: ProxyState, token: str) -> None:
    """Drop a key (or ``ALL_KEYS``) from this instance's cache, and tell the other instances."""
    if token == ALL_KEYS:
        state.auth.cache.invalidate_all()
    else:
        state.auth.cache.invalidate(token)
    await state.key_events.publish(token)


async def _ensure_user(state: ProxyState, user_id: str | None) -> None:
    """Create the user row of a key's ``user_id`` when missing (as LiteLLM does), so that the user's
    personal spend is tracked from the first call."""
    from ledgerlm.store import AlreadyExistsError, users

    if user_id and await users.get_user(state.store.engine, user_id) is None:
        with contextlib.suppress(AlreadyExistsError):
            await users.create_user(state.store.engine, user_id, {})


@managed()
async def key_generate(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /key/generate`` -> the new key (shown once) and its stored fields. An unknown ``team_id`` is
    a 400; an unknown ``user_id`` is created."""
    from ledgerlm.store import keys

    req = mm.parse_body(mm.KeyGenerate, await _body(request))
    await _check_team(state, req.team_id)
    await _ensure_user(state, req.user_id)
    key = generate_key()
    row = await keys.create_key(state.store.engine, key, _key_fields(req))
    return {**row, "key": key, "token_id": row["token"]}


def _wanted_key(request: Request, ctx: KeyContext) -> str:
    key = request.query_params.get("key")
    if ctx.is_admin:
        if not key:
            raise BadRequestError("query parameter 'key' is required", param="key")
        return key
    if key and hash_key(key) != ctx.token and key != ctx.token:
        require_admin(ctx)
    assert ctx.token is not None
    return ctx.token


@managed(admin=False)
async def key_info(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /key/info?key=`` (the master key: any key; a virtual key: itself)."""
    from ledgerlm.store import keys

    key = _wanted_key(request, ctx)
    row = await keys.get_key(state.store.engine, key)
    if row is None:
        raise NotFoundError("no such key", param="key", code="key_not_found")
    return {"key": row["token"], "info": row}


@managed()
async def key_update(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /key/update``: change the fields sent; the cached key is invalidated."""
    from ledgerlm.store import keys

    req = mm.parse_body(mm.KeyUpdate, await _body(request))
    existing = await keys.get_key(state.store.engine, req.key)
    if existing is None:
        raise NotFoundError("no such key", param="key", code="key_not_found")
    if "team_id" in req.model_fields_set:
        await _check_team(state, req.team_id)
    if "user_id" in req.model_fields_set:
        await _ensure_user(state, req.user_id)
    fields = _key_fields(req, existing_metadata=existing.get("metadata"))
    row = await keys.update_key(state.store.engine, existing["token"], fields) if fields else existing
    await _invalidate(state, existing["token"])
    return row


@managed()
async def key_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /key/delete`` with ``keys`` and/or ``key_aliases``; returns the deleted key hashes."""
    from ledgerlm.store import keys

    req = mm.parse_body(mm.KeyDelete, await _body(request))
    engine = state.store.engine
    tokens = [hash_key(k) for k in req.keys]
    for alias in req.key_aliases:
        tokens.extend(r["token"] for r in await keys.list_keys(engine, key_alias=alias, limit=1000))
    deleted = []
    for token in dict.fromkeys(tokens):
        if await keys.delete_key(engine, token):
            deleted.append(token)
        await _invalidate(state, token)
    if not deleted:
        raise NotFoundError("no such key", param="keys", code="key_not_found")
    return {"deleted_keys": deleted}


def _page(request: Request) -> tuple[int, int]:
    try:
        page = max(1, int(request.query_params.get("page", "1")))
        size = min(1000, max(1, int(request.query_params.get("size", "100"))))
    except ValueError:
        raise BadRequestError("page and size must be integers", param="page") from None
    return page, size


@managed()
async def key_list(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /key/list?page=&size=&team_id=&user_id=&key_alias=&return_full_object=`` ->
    ``{keys, total_count, current_page, total_pages}`` (LiteLLM's shape; key hashes unless full)."""
    from ledgerlm.store import keys

    page, size = _page(request)
    q = request.query_params
    where = {"team_id": q.get("team_id"), "user_id": q.get("user_id"), "key_alias": q.get("key_alias")}
    rows = await keys.list_keys(state.store.engine, **where, limit=size, offset=(page - 1) * size)
    total = await _count_keys(state, where)
    full = q.get("return_full_object", "false").lower() == "true"
    return {
        "keys": rows if full else [r["token"] for r in rows],
        "total_count": total,
        "current_page": page,
        "total_pages": max(1, -(-total // size)),
        "size": size,
    }


async def _count_keys(state: ProxyState, where: dict[str, str | None]) -> int:
    import sqlalchemy as sa

    from ledgerlm.store.tables import verification_tokens as table

    statement = sa.select(sa.func.count()).select_from(table)
    for name, value in where.items():
        if value is not None:
            statement = statement.where(table.c[name] == value)
    async with state.store.engine.connect() as conn:
        return int((await conn.execute(statement)).scalar_one())


@managed()
async def team_new(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /team/new``."""
    from ledgerlm.store import teams

    req = mm.parse_body(mm.TeamNew, await _body(request))
    team_id = req.team_id or str(uuid.uuid4())
    fields = _set(req, exclude={"team_id"})
    return await teams.create_team(state.store.engine, team_id, _no_null_lists(fields))


def _no_null_lists(fields: dict[str, Any]) -> dict[str, Any]:
    for name in ("models", "tags", "members", "teams"):
        if name in fields and fields[name] is None:
            fields[name] = []
    if "metadata" in fields and fields["metadata"] is None:
        fields["metadata"] = {}
    return fields


@managed()
async def team_update(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /team/update``: every cached key is invalidated (team models/tags/blocked may change)."""
    from ledgerlm.store import teams

    req = mm.parse_body(mm.TeamUpdate, await _body(request))
    fields = _no_null_lists(_set(req, exclude={"team_id"}))
    row = await teams.update_team(state.store.engine, req.team_id, fields)
    if row is None:
        raise NotFoundError(f"team {req.team_id!r} does not exist", param="team_id", code="team_not_found")
    await _invalidate(state, ALL_KEYS)
    return row


@managed()
async def team_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /team/delete`` with ``team_ids``."""
    from ledgerlm.store import teams

    req = mm.parse_body(mm.TeamDelete, await _body(request))
    deleted = [t for t in req.team_ids if await teams.delete_team(state.store.engine, t)]
    await _invalidate(state, ALL_KEYS)
    if not deleted:
        raise NotFoundError("no such team", param="team_ids", code="team_not_found")
    return {"deleted_teams": deleted}


def _required_query(request: Request, *names: str) -> str:
    for name in names:
        value = request.query_params.get(name)
        if value:
            return value
    raise BadRequestError(f"query parameter {names[0]!r} is required", param=names[0])


@managed()
async def team_info(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /team/info?team_id=`` -> ``{team_id, team_info, keys}``."""
    from ledgerlm.store import keys, teams

    team_id = _required_query(request, "team_id")
    row = await teams.get_team(state.store.engine, team_id)
    if row is None:
        raise NotFoundError(f"team {team_id!r} does not exist", param="team_id", code="team_not_found")
    team_keys = await keys.list_keys(state.store.engine, team_id=team_id, limit=1000)
    return {"team_id": team_id, "team_info": row, "keys": team_keys}


@managed()
async def user_new(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /user/new``: the user, and a new key for it unless ``auto_create_key`` is false."""
    from ledgerlm.store import keys, users

    req = mm.parse_body(mm.UserNew, await _body(request))
    user_id = req.user_id or str(uuid.uuid4())
    fields = _no_null_lists(_set(req, exclude={"user_id", "auto_create_key", "key_alias", "duration"}))
    row = await users.create_user(state.store.engine, user_id, fields)
    if not req.auto_create_key:
        return row
    key = generate_key()
    key_fields: dict[str, Any] = {"user_id": user_id, "models": list(req.models or [])}
    if req.key_alias:
        key_fields["key_alias"] = req.key_alias
    if req.duration:
        key_fields["expires"] = mm.duration_to_expiry(req.duration)
    key_row = await keys.create_key(state.store.engine, key, key_fields)
    return {**row, "key": key, "token": key_row["token"], "expires": key_row.get("expires")}


@managed()
async def user_info(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /user/info?user_id=`` -> ``{user_id, user_info, keys, teams}``."""
    from ledgerlm.store import keys, teams, users

    user_id = _required_query(request, "user_id")
    row = await users.get_user(state.store.engine, user_id)
    if row is None:
        raise NotFoundError(f"user {user_id!r} does not exist", param="user_id", code="user_not_found")
    user_keys = await keys.list_keys(state.store.engine, user_id=user_id, limit=1000)
    team_ids = sorted({k["team_id"] for k in user_keys if k.get("team_id")} | set(row.get("teams") or []))
    team_rows = await teams.get_teams(state.store.engine, team_ids)
    return {"user_id": user_id, "user_info": row, "keys": user_keys, "teams": list(team_rows.values())}


@managed()
async def customer_new(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /customer/new`` (end user)."""
    from ledgerlm.store import customers

    req = mm.parse_body(mm.CustomerNew, await _body(request))
    fields = _no_null_lists(_set(req, exclude={"user_id"}))
    return await customers.create_customer(state.store.engine, req.user_id, fields)


@managed()
async def customer_info(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /customer/info?end_user_id=`` (``user_id`` accepted too)."""
    from ledgerlm.store import customers

    user_id = _required_query(request, "end_user_id", "user_id")
    row = await customers.get_customer(state.store.engine, user_id)
    if row is None:
        raise NotFoundError(
            f"customer {user_id!r} does not exist", param="end_user_id", code="customer_not_found"
        )
    return row


def routes() -> list[Route]:
    """The management routes."""
    return [
        Route("/key/generate", key_generate, methods=["POST"]),
        Route("/key/info", key_info, methods=["GET"]),
        Route("/key/update", key_update, methods=["POST"]),
        Route("/key/delete", key_delete, methods=["POST"]),
        Route("/key/list", key_list, methods=["GET"]),
        Route("/team/new", team_new, methods=["POST"]),
        Route("/team/update", team_update, methods=["POST"]),
        Route("/team/delete", team_delete, methods=["POST"]),
        Route("/team/info", team_info, methods=["GET"]),
        Route("/user/new", user_new, methods=["POST"]),
        Route("/user/info", user_info, methods=["GET"]),
        Route("/customer/new", customer_new, methods=["POST"]),
        Route("/customer/info", customer_info, methods=["GET"]),
    ]
