"""Team members and team switches (LiteLLM paths): ``POST /team/member_add`` (``{"team_id", "member":
{"user_id"|"user_email", "role"} | [...], "max_budget_in_team"}``), ``POST /team/member_update``
(``{"team_id", "user_id", "role", "max_budget_in_team"}``), ``POST /team/member_delete``
(``{"team_id", "user_id"|"user_email"}``), ``GET /team/list?user_id=&organization_id=``, ``POST
/team/block|unblock`` (``{"team_id"}``), ``POST /team/model/add|delete`` (``{"team_id", "models": [...]}``).

Members are the team's ``members_with_roles`` (``role``: ``admin`` manages the team's keys and members,
``user`` is a member); a member's user row is created when missing and lists the team in ``teams``.
``max_budget_in_team`` (USD, LiteLLM's member budget) caps what the member spends with the team's
keys (admission: ``ledgerlm.budgets.store_io.member_limits``); stored on the member entry.
Every change drops the key cache (team roles, models and ``blocked`` are read with the key).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError, NotFoundError
from ledgerlm.proxy import management_models as mm
from ledgerlm.proxy import roles
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.key_events import ALL_KEYS
from ledgerlm.proxy.management import get_team_or_404, invalidate, managed, page_params, read_body, team_out
from ledgerlm.proxy.state import ProxyState
from ledgerlm.store import teams, users

__all__ = ["routes"]


class MemberAdd(BaseModel):
    """``/team/member_add``."""

    model_config = ConfigDict(extra="ignore")
    team_id: str = Field(min_length=1)
    member: mm.Member | list[mm.Member]
    max_budget_in_team: Decimal | None = Field(default=None, ge=0)


class MemberUpdate(BaseModel):
    """``/team/member_update`` and ``/team/member_delete``."""

    model_config = ConfigDict(extra="ignore")
    team_id: str = Field(min_length=1)
    user_id: str | None = None
    user_email: str | None = None
    role: Literal["admin", "user"] | None = None
    max_budget_in_team: Decimal | None = Field(default=None, ge=0)


class TeamModels(BaseModel):
    """``/team/model/add`` and ``/team/model/delete``."""

    model_config = ConfigDict(extra="ignore")
    team_id: str = Field(min_length=1)
    models: list[str] = Field(min_length=1)


class TeamId(BaseModel):
    """``/team/block`` and ``/team/unblock``."""

    model_config = ConfigDict(extra="ignore")
    team_id: str = Field(min_length=1)


async def _admin_team(state: ProxyState, ctx: KeyContext, team_id: str) -> dict[str, Any]:
    team = await get_team_or_404(state, team_id)
    roles.check_team_admin(ctx, team)
    return team


async def _save_members(
    state: ProxyState, team: dict[str, Any], members: list[dict[str, Any]]
) -> dict[str, Any]:
    row = await teams.update_team(state.store.engine, team["team_id"], {"members": members})
    await invalidate(state, ALL_KEYS)
    return team_out(row or team)


async def _link_user(state: ProxyState, user_id: str, team_id: str, *, add: bool) -> None:
    engine = state.store.engine
    user = await users.get_user(engine, user_id)
    if user is None:
        if add:
            await users.create_user(engine, user_id, {"teams": [team_id]})
        return
    current = [t for t in user.get("teams") or [] if t != team_id]
    await users.update_user(engine, user_id, {"teams": [*current, team_id] if add else current})


@managed()
async def member_add(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /team/member_add`` -> the team (with ``members_with_roles``) and ``updated_users``."""
    req = mm.parse_body(MemberAdd, await read_body(request))
    team = await _admin_team(state, ctx, req.team_id)
    added = req.member if isinstance(req.member, list) else [req.member]
    current = list(team.get("members") or [])
    for member in added:
        if member.user_id and any(m.get("user_id") == member.user_id for m in current):
            raise BadRequestError(
                f"user {member.user_id!r} is already a member", param="member", code="member_exists"
            )
    members = _with_budgets(current, mm.members_of([mm.Member.model_validate(m) for m in current] + added))
    if req.max_budget_in_team is not None:  # LiteLLM: the budget of every member added by this call
        budget = str(req.max_budget_in_team)
        added_ids = {m.user_id for m in added if m.user_id}
        members = [
            {**m, "max_budget_in_team": budget} if m.get("user_id") in added_ids else m for m in members
        ]
    for member in added:
        if member.user_id:
            await _link_user(state, member.user_id, req.team_id, add=True)
    out = await _save_members(state, team, members)
    return {**out, "updated_users": [m.model_dump(exclude_none=True) for m in added]}


def _with_budgets(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``new`` member entries keeping each existing member's ``max_budget_in_team``."""
    budgets = {m.get("user_id"): m["max_budget_in_team"] for m in old if "max_budget_in_team" in m}
    return [
        {**m, "max_budget_in_team": budgets[m["user_id"]]} if m.get("user_id") in budgets else m for m in new
    ]


def _find(members: list[dict[str, Any]], req: MemberUpdate) -> int:
    for index, member in enumerate(members):
        if (req.user_id and member.get("user_id") == req.user_id) or (
            req.user_email and member.get("user_email") == req.user_email
        ):
            return index
    raise NotFoundError("no such member of this team", param="user_id", code="member_not_found")


@managed()
async def member_update(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /team/member_update`` -> ``{team_id, user_id, user_email, role}``."""
    req = mm.parse_body(MemberUpdate, await read_body(request))
    team = await _admin_team(state, ctx, req.team_id)
    members = list(team.get("members") or [])
    index = _find(members, req)
    if req.role is not None:
        members[index] = {**members[index], "role": req.role}
    if req.max_budget_in_team is not None:
        members[index] = {**members[index], "max_budget_in_team": str(req.max_budget_in_team)}
    await _save_members(state, team, members)
    member = members[index]
    budget = member.get("max_budget_in_team")
    return {
        "team_id": req.team_id,
        "user_id": member.get("user_id"),
        "user_email": member.get("user_email"),
        "role": member.get("role"),
        "max_budget_in_team": None if budget is None else Decimal(str(budget)),
    }


@managed()
async def member_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /team/member_delete`` -> the team without the member."""
    req = mm.parse_body(MemberUpdate, await read_body(request))
    team = await _admin_team(state, ctx, req.team_id)
    members = list(team.get("members") or [])
    removed = members.pop(_find(members, req))
    if removed.get("user_id"):
        await _link_user(state, removed["user_id"], req.team_id, add=False)
    return await _save_members(state, team, members)


@managed()
async def team_list(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /team/list?user_id=&organization_id=`` -> a list of teams (non-admins: teams they are
    members of, or a team key's own team)."""
    page, size = page_params(request)
    q = request.query_params
    rows = await teams.list_teams(state.store.engine, organization_id=q.get("organization_id"), limit=100_000)
    wanted_user = q.get("user_id")
    if wanted_user:
        rows = [r for r in rows if any(m.get("user_id") == wanted_user for m in r.get("members") or [])]
    if not roles.sees_all(ctx):
        rows = [r for r in rows if _may_read(ctx, r)]
    return [team_out(r) for r in rows[(page - 1) * size : page * size]]


def _may_read(ctx: KeyContext, team: dict[str, Any]) -> bool:
    try:
        roles.check_read(ctx, team=team)
    except Exception:
        return False
    return True


async def _set_blocked(request: Request, state: ProxyState, blocked: bool) -> dict[str, Any]:
    req = mm.parse_body(TeamId, await read_body(request))
    row = await teams.update_team(state.store.engine, req.team_id, {"blocked": blocked})
    if row is None:
        raise NotFoundError(f"team {req.team_id!r} does not exist", param="team_id", code="team_not_found")
    await invalidate(state, ALL_KEYS)
    return team_out(row)


@managed()
async def team_block(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /team/block`` ``{"team_id"}``: every key of the team is refused (401) from now on."""
    return await _set_blocked(request, state, True)


@managed()
async def team_unblock(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /team/unblock`` ``{"team_id"}``."""
    return await _set_blocked(request, state, False)


async def _change_models(
    request: Request, state: ProxyState, ctx: KeyContext, *, add: bool
) -> dict[str, Any]:
    req = mm.parse_body(TeamModels, await read_body(request))
    team = await _admin_team(state, ctx, req.team_id)
    current = list(team.get("models") or [])
    models = (
        list(dict.fromkeys([*current, *req.models])) if add else [m for m in current if m not in req.models]
    )
    row = await teams.update_team(state.store.engine, req.team_id, {"models": models})
    await invalidate(state, ALL_KEYS)
    return team_out(row or team)


@managed()
async def team_model_add(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /team/model/add`` ``{"team_id", "models"}`` -> the team."""
    return await _change_models(request, state, ctx, add=True)


@managed()
async def team_model_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /team/model/delete`` ``{"team_id", "models"}`` -> the team (an empty list = all models)."""
    return await _change_models(request, state, ctx, add=False)


def routes() -> list[Route]:
    """Team member, list, block and model routes."""
    return [
        Route("/team/member_add", member_add, methods=["POST"]),
        Route("/team/member_update", member_update, methods=["POST"]),
        Route("/team/member_delete", member_delete, methods=["POST"]),
        Route("/team/list", team_list, methods=["GET"]),
        Route("/team/block", team_block, methods=["POST"]),
        Route("/team/unblock", team_unblock, methods=["POST"]),
        Route("/team/model/add", team_model_add, methods=["POST"]),
        Route("/team/model/delete", team_model_delete, methods=["POST"]),
    ]
