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
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm.budgets.durations import with_reset_time
from ledgerlm.errors import BadRequestError, NotFoundError
from ledgerlm.proxy import management_models as mm
from ledgerlm.proxy import roles
from ledgerlm.proxy.auth import KeyContext, generate_key, hash_key
from ledgerlm.proxy.http import error_response, json_response, read_json_body, reject_nul
from ledgerlm.proxy.key_events import ALL_KEYS
from ledgerlm.proxy.passwords import hash_password
from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.tiers import apply_tier
from ledgerlm.store import tables

__all__ = ["routes"]

Handler = Callable[[Request, ProxyState, KeyContext], Awaitable[Any]]
MAX_MANAGEMENT_BODY = 1024 * 1024


def managed() -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler: authenticate (401), pass the route's role gate (``proxy.roles``: 403), map errors.

    The route's ``Access`` comes from ``roles.ROUTE_ACCESS`` by path (a path missing there is
    admin-only); the handler then checks its target with ``roles.check_*``.
    """

    def wrap(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(fn)
        async def handler(request: Request) -> Response:
            state: ProxyState = request.app.state.proxy
            try:
                ctx = await state.auth.authenticate(request.headers)
                roles.gate(ctx, roles.access_of(request.url.path))
                reject_nul(dict(request.query_params.multi_items()), "query")
                result = await fn(request, state, ctx)
            except ValueError as exc:  # the store's unknown-field / already-exists errors
                return error_response(BadRequestError(str(exc), code="invalid_request"))
            except Exception as exc:
                return error_response(exc)
            return result if isinstance(result, Response) else json_response(result, any_keys=True)

        return handler

    return wrap


async def read_body(request: Request) -> dict[str, Any]:
    return await read_json_body(request, MAX_MANAGEMENT_BODY, forbid_nul=True)


def sent_fields(model: Any, *, exclude: set[str]) -> dict[str, Any]:
    """The fields the caller actually sent, minus ``exclude`` (a new ``budget_duration`` sets
    ``budget_reset_at``, the end of the first budget period)."""
    fields = {k: v for k, v in model.model_dump(exclude_unset=True).items() if k not in exclude}
    return with_reset_time(fields)


def _key_fields(req: mm.KeyGenerate, *, existing_metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    fields = sent_fields(req, exclude={"tags", "duration", "key"})
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


async def check_team(state: ProxyState, team_id: str | None) -> dict[str, Any] | None:
    """The team row of ``team_id`` (None when no team); an unknown team is a 400."""
    from ledgerlm.store import teams

    if not team_id:
        return None
    team = await teams.get_team(state.store.engine, team_id)
    if team is None:
        raise BadRequestError(f"team {team_id!r} does not exist", param="team_id", code="team_not_found")
    return team


def _caller_user(ctx: KeyContext) -> dict[str, Any]:
    """The caller's user limits as a row-like dict (for ``roles.check_key_limits``)."""
    return {"max_budget": ctx.user_max_budget, "models": ctx.user_models}


async def authorize_key_write(
    state: ProxyState, ctx: KeyContext, team_id: str | None, owner: str | None, fields: dict[str, Any] | None
) -> None:
    """A key of ``team_id`` owned by ``owner`` with ``fields``: may the caller write it? (403 if not)."""
    team = await check_team(state, team_id)
    roles.check_key_write(ctx, team=team, owner=owner)
    if fields is not None and team is None and owner == ctx.user_id:
        roles.check_key_limits(ctx, _caller_user(ctx), fields)


async def invalidate(state: ProxyState, token: str) -> None:
    """Drop a key (or ``ALL_KEYS``) from this instance's cache, and tell the other instances."""
    if token == ALL_KEYS:
        state.auth.cache.invalidate_all()
    else:
        state.auth.cache.invalidate(token)
    await state.key_events.publish(token)


async def ensure_user(state: ProxyState, user_id: str | None) -> None:
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

    req = mm.parse_body(mm.KeyGenerate, await read_body(request))
    fields = _key_fields(req)
    if roles.role_of(ctx) != roles.PROXY_ADMIN and req.user_id is None and req.team_id is None:
        fields["user_id"] = ctx.user_id  # an internal user's key is its own
    fields = await apply_tier(state, tables.verification_tokens, fields)
    await authorize_key_write(state, ctx, req.team_id, fields.get("user_id"), fields)
    await ensure_user(state, fields.get("user_id"))
    key = generate_key()
    row = await keys.create_key(state.store.engine, key, fields)
    return {**row, "key": key, "token_id": row["token"]}


def _wanted_key(request: Request, ctx: KeyContext) -> str:
    key = request.query_params.get("key")
    if key:
        return key
    if ctx.is_admin or ctx.token is None:
        raise BadRequestError("query parameter 'key' is required", param="key")
    return ctx.token


@managed()
async def key_info(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /key/info?key=`` -> ``{key, info}`` (admins: any key; others: their own keys; no ``key``:
    the calling key). Another's key is a 403 whether it exists or not."""
    from ledgerlm.store import keys

    key = _wanted_key(request, ctx)
    row = await keys.get_key(state.store.engine, key)
    if not roles.sees_all(ctx):
        roles.check_read(ctx, key=row or {"token": hash_key(key)})
    if row is None:
        raise NotFoundError("no such key", param="key", code="key_not_found")
    from ledgerlm.proxy.spend_alert_routes import budget_forecast  # issue 23: burn-rate forecast

    return {"key": row["token"], "info": row, "budget_forecast": await budget_forecast(state, "key", row)}


@managed()
async def key_update(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /key/update``: change the fields sent; the cached key is invalidated."""
    from ledgerlm.store import keys

    req = mm.parse_body(mm.KeyUpdate, await read_body(request))
    existing = await keys.get_key(state.store.engine, req.key)
    if existing is None:
        raise NotFoundError("no such key", param="key", code="key_not_found")
    fields = await apply_tier(
        state, tables.verification_tokens, _key_fields(req, existing_metadata=existing.get("metadata"))
    )
    await authorize_key_write(state, ctx, existing.get("team_id"), existing.get("user_id"), None)
    merged = {**existing, **fields}
    await authorize_key_write(state, ctx, merged.get("team_id"), merged.get("user_id"), merged)
    if "user_id" in req.model_fields_set:
        await ensure_user(state, req.user_id)
    row = await keys.update_key(state.store.engine, existing["token"], fields) if fields else existing
    await invalidate(state, existing["token"])
    return row


@managed()
async def key_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /key/delete`` with ``keys`` and/or ``key_aliases``; returns the deleted key hashes."""
    from ledgerlm.store import keys

    req = mm.parse_body(mm.KeyDelete, await read_body(request))
    engine = state.store.engine
    tokens = [hash_key(k) for k in req.keys]
    for alias in req.key_aliases:
        tokens.extend(
            r["token"] for r in await keys.list_keys(engine, keys.KeyFilter(key_alias=alias), limit=1000)
        )
    for token in dict.fromkeys(tokens):  # every key is checked before any is deleted
        row = await keys.get_key(engine, token)
        if row is not None:
            await authorize_key_write(state, ctx, row.get("team_id"), row.get("user_id"), None)
        elif not roles.sees_all(ctx):
            roles.check_read(ctx, key={"token": token})
    deleted = []
    for token in dict.fromkeys(tokens):
        if await keys.delete_key(engine, token):
            deleted.append(token)
        await invalidate(state, token)
    if not deleted:
        raise NotFoundError("no such key", param="keys", code="key_not_found")
    return {"deleted_keys": deleted}


def page_params(request: Request) -> tuple[int, int]:
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

    page, size = page_params(request)
    q = request.query_params
    where = {
        "team_id": q.get("team_id"),
        "user_id": q.get("user_id"),
        "key_alias": q.get("key_alias"),
        "organization_id": q.get("organization_id"),
        "token": _key_hash(q.get("key_hash")),
    }
    await _scope_key_list(state, ctx, where)
    rows = await keys.list_keys(
        state.store.engine, keys.KeyFilter(**where), limit=size, offset=(page - 1) * size
    )
    total = await _count_keys(state, where)
    full = q.get("return_full_object", "false").lower() == "true"
    return {
        "keys": rows if full else [r["token"] for r in rows],
        "total_count": total,
        "current_page": page,
        "total_pages": max(1, -(-total // size)),
        "size": size,
    }


def _key_hash(value: str | None) -> str | None:
    return hash_key(value) if value and value.startswith("sk-") else value or None


async def _scope_key_list(state: ProxyState, ctx: KeyContext, where: dict[str, str | None]) -> None:
    """Admins list every key; a team admin (``team_id=``) its team's keys; anyone else its own keys
    (its user's, or a user-less key itself)."""
    if roles.sees_all(ctx):
        return
    team = await check_team(state, where["team_id"]) if where["team_id"] else None
    if team is not None and roles.team_role(ctx, team) == roles.TEAM_ADMIN:
        return
    if ctx.user_id:
        where["user_id"] = ctx.user_id
    else:
        where["token"] = ctx.token


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

    req = mm.parse_body(mm.TeamNew, await read_body(request))
    roles.check_org_admin(ctx, req.organization_id)
    team_id = req.team_id or str(uuid.uuid4())
    fields = sent_fields(req, exclude={"team_id", "members_with_roles"})
    if req.members_with_roles is not None:
        fields["members"] = mm.members_of(req.members_with_roles)
    return team_out(await teams.create_team(state.store.engine, team_id, no_null_lists(fields)))


def team_out(row: dict[str, Any]) -> dict[str, Any]:
    """A team row as LiteLLM shows it: ``members_with_roles`` beside our ``members``."""
    members = [_member_out(m) for m in row.get("members") or []]
    return {**row, "members": members, "members_with_roles": members}


def _member_out(member: dict[str, Any]) -> dict[str, Any]:
    """A stored member entry; ``max_budget_in_team`` (kept as a decimal string) as exact money."""
    budget = member.get("max_budget_in_team")
    return member if budget is None else {**member, "max_budget_in_team": Decimal(str(budget))}


def no_null_lists(fields: dict[str, Any]) -> dict[str, Any]:
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

    req = mm.parse_body(mm.TeamUpdate, await read_body(request))
    existing = await get_team_or_404(state, req.team_id)
    roles.check_team_admin(ctx, existing)
    if "organization_id" in req.model_fields_set:
        roles.check_org_admin(ctx, req.organization_id)
    fields = no_null_lists(sent_fields(req, exclude={"team_id", "members_with_roles"}))
    if req.members_with_roles is not None:
        fields["members"] = mm.members_of(req.members_with_roles)
    row = await teams.update_team(state.store.engine, req.team_id, fields) if fields else existing
    if row is None:
        raise NotFoundError(f"team {req.team_id!r} does not exist", param="team_id", code="team_not_found")
    await invalidate(state, ALL_KEYS)
    return team_out(row)


async def get_team_or_404(state: ProxyState, team_id: str) -> dict[str, Any]:
    """The team row, or a 404 naming it."""
    from ledgerlm.store import teams

    row = await teams.get_team(state.store.engine, team_id)
    if row is None:
        raise NotFoundError(f"team {team_id!r} does not exist", param="team_id", code="team_not_found")
    return row


@managed()
async def team_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /team/delete`` with ``team_ids``."""
    from ledgerlm.store import teams

    req = mm.parse_body(mm.TeamDelete, await read_body(request))
    for row in (await teams.get_teams(state.store.engine, req.team_ids)).values():
        roles.check_org_admin(ctx, row.get("organization_id"))
    deleted = [t for t in req.team_ids if await teams.delete_team(state.store.engine, t)]
    await invalidate(state, ALL_KEYS)
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

    team_id = request.query_params.get("team_id") or ctx.team_id
    if not team_id:
        raise BadRequestError("query parameter 'team_id' is required", param="team_id")
    row = await teams.get_team(state.store.engine, team_id)
    if not roles.sees_all(ctx):
        roles.check_read(ctx, team=row or {"team_id": team_id})
    if row is None:
        raise NotFoundError(f"team {team_id!r} does not exist", param="team_id", code="team_not_found")
    team_keys = await keys.list_keys(state.store.engine, keys.KeyFilter(team_id=team_id), limit=1000)
    from ledgerlm.proxy.spend_alert_routes import budget_forecast  # issue 23: burn-rate forecast

    forecast = await budget_forecast(state, "team", row)
    return {"team_id": team_id, "team_info": team_out(row), "keys": team_keys, "budget_forecast": forecast}


@managed()
async def user_new(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /user/new``: the user, and a new key for it unless ``auto_create_key`` is false."""
    from ledgerlm.store import keys, users

    req = mm.parse_body(mm.UserNew, await read_body(request))
    roles.check_user_write(ctx, req.organization_id, req.user_role)
    user_id = req.user_id or str(uuid.uuid4())
    excluded = {"user_id", "auto_create_key", "key_alias", "duration", "password"}
    fields = no_null_lists(sent_fields(req, exclude=excluded))
    fields = await apply_tier(state, tables.users, fields)
    if req.password is not None:  # /login with username + password (dashboard, issue 21)
        fields["password_hash"] = hash_password(req.password)
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
    """``GET /user/info?user_id=`` -> ``{user_id, user_info, keys, teams, budget_forecast}``."""
    from ledgerlm.store import keys, teams, users

    user_id = request.query_params.get("user_id") or ctx.user_id
    if not user_id:
        raise BadRequestError("query parameter 'user_id' is required (this key has no user)", param="user_id")
    row = await users.get_user(state.store.engine, user_id)
    if not roles.sees_all(ctx):
        roles.check_read(ctx, user_id=user_id, organization_id=(row or {}).get("organization_id"))
    if row is None:
        raise NotFoundError(f"user {user_id!r} does not exist", param="user_id", code="user_not_found")
    user_keys = await keys.list_keys(state.store.engine, keys.KeyFilter(user_id=user_id), limit=1000)
    team_ids = sorted({k["team_id"] for k in user_keys if k.get("team_id")} | set(row.get("teams") or []))
    team_rows = await teams.get_teams(state.store.engine, team_ids)
    teams_out = [team_out(t) for t in team_rows.values()]
    from ledgerlm.proxy.spend_alert_routes import budget_forecast  # issue 23: burn-rate forecast

    forecast = await budget_forecast(state, "user", row)
    return {
        "user_id": user_id,
        "user_info": row,
        "keys": user_keys,
        "teams": teams_out,
        "budget_forecast": forecast,
    }


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
    ]
