"""Organizations (LiteLLM ``/organization/*``): ``POST /organization/new``, ``PATCH|POST
/organization/update``, ``DELETE|POST /organization/delete`` (``{"organization_ids"}``), ``GET
/organization/info?organization_id=``, ``GET /organization/list``, ``POST /organization/member_add|
member_update`` (``{"organization_id", "member": {"user_id", "role"} | [...]}``), ``DELETE|POST
/organization/member_delete`` (``{"organization_id", "user_id"}``).

Fields: ``organization_id`` (generated when absent), ``organization_alias``, ``models``, budget and
rate-limit fields (USD, per minute), ``metadata``. A member's organization role (``org_admin``,
``internal_user``, ``internal_user_viewer``) is its user's ``user_role`` and the user's
``organization_id`` is set: a user belongs to one organization (documented difference: LiteLLM keeps a
membership table). Rows carry ``members`` (``[{"user_id", "user_role"}]``) and ``teams``.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.routing import Route

from ledgerlm.errors import BadRequestError, NotFoundError
from ledgerlm.proxy import management_models as mm
from ledgerlm.proxy import roles
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.key_events import ALL_KEYS
from ledgerlm.proxy.management import invalidate, managed, no_null_lists, read_body, sent_fields
from ledgerlm.proxy.state import ProxyState
from ledgerlm.store import _crud, organizations, tables, teams, users

__all__ = ["routes"]


class OrganizationBody(mm.LimitFields):
    """``/organization/new`` and ``/organization/update``."""

    organization_id: str | None = Field(default=None, min_length=1, max_length=255)
    organization_alias: str | None = Field(default=None, max_length=255)
    models: list[str] | None = None


class OrgMember(BaseModel):
    """A member of an organization (LiteLLM ``OrgMember``)."""

    model_config = ConfigDict(extra="ignore")
    user_id: str = Field(min_length=1, max_length=255)
    role: Literal["org_admin", "internal_user", "internal_user_viewer"] = "internal_user"


class MemberChange(BaseModel):
    """``member_add`` / ``member_update`` / ``member_delete`` bodies."""

    model_config = ConfigDict(extra="ignore")
    organization_id: str = Field(min_length=1)
    member: OrgMember | list[OrgMember] | None = None
    user_id: str | None = None
    role: Literal["org_admin", "internal_user", "internal_user_viewer"] | None = None

    def members(self) -> list[OrgMember]:
        if isinstance(self.member, list):
            return self.member
        if self.member is not None:
            return [self.member]
        if self.user_id:
            return [OrgMember(user_id=self.user_id, role=self.role or "internal_user")]
        raise BadRequestError("member (or user_id) is required", param="member")


async def _org_or_404(state: ProxyState, organization_id: str) -> dict[str, Any]:
    row = await organizations.get_organization(state.store.engine, organization_id)
    if row is None:
        raise NotFoundError(
            f"organization {organization_id!r} does not exist",
            param="organization_id",
            code="organization_not_found",
        )
    return row


async def org_out(state: ProxyState, row: dict[str, Any]) -> dict[str, Any]:
    """An organization with its ``members`` and ``teams`` (LiteLLM
    ``LiteLLM_OrganizationTableWithMembers``)."""
    engine = state.store.engine
    org_id = row["organization_id"]
    members = await _crud.list_rows(engine, tables.users, where={"organization_id": org_id}, limit=10_000)
    org_teams = await teams.list_teams(engine, organization_id=org_id, limit=10_000)
    return {
        **row,
        "members": [{"user_id": m["user_id"], "user_role": m.get("user_role")} for m in members],
        "teams": org_teams,
    }


@managed()
async def org_new(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /organization/new`` -> the organization."""
    req = mm.parse_body(OrganizationBody, await read_body(request))
    fields = no_null_lists(sent_fields(req, exclude={"organization_id"}))
    org_id = req.organization_id or str(uuid.uuid4())
    return await org_out(state, await organizations.create_organization(state.store.engine, org_id, fields))


@managed()
async def org_update(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``PATCH /organization/update`` (``organization_id`` required; its org admin may update it)."""
    req = mm.parse_body(OrganizationBody, await read_body(request))
    if not req.organization_id:
        raise BadRequestError("organization_id is required", param="organization_id")
    row = await _org_or_404(state, req.organization_id)
    roles.check_org_admin(ctx, req.organization_id)
    fields = no_null_lists(sent_fields(req, exclude={"organization_id"}))
    if fields:
        row = await organizations.update_organization(state.store.engine, req.organization_id, fields) or row
    return await org_out(state, row)


@managed()
async def org_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``DELETE /organization/delete`` ``{"organization_ids"}`` -> the deleted organizations."""
    body = await read_body(request)
    ids = body.get("organization_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise BadRequestError(
            "organization_ids: a non-empty list of ids is required", param="organization_ids"
        )
    deleted = []
    for org_id in ids:
        row = await organizations.get_organization(state.store.engine, org_id)
        if row is not None and await organizations.delete_organization(state.store.engine, org_id):
            deleted.append(row)
    if not deleted:
        raise NotFoundError("no such organization", param="organization_ids", code="organization_not_found")
    return deleted


@managed()
async def org_info(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /organization/info?organization_id=`` (admins; members of the organization)."""
    org_id = request.query_params.get("organization_id") or ctx.user_organization_id
    if not org_id:
        raise BadRequestError("query parameter 'organization_id' is required", param="organization_id")
    roles.check_read(ctx, organization_id=org_id)
    return await org_out(state, await _org_or_404(state, org_id))


@managed()
async def org_list(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /organization/list`` -> a list (admins: all; others: their own organization)."""
    if roles.sees_all(ctx):
        rows = await organizations.list_organizations(state.store.engine, limit=10_000)
    else:
        own = ctx.user_organization_id
        found = await organizations.get_organization(state.store.engine, own) if own else None
        rows = [found] if found else []
    return [await org_out(state, r) for r in rows]


async def _set_members(state: ProxyState, org_id: str, members: list[OrgMember]) -> list[dict[str, Any]]:
    engine = state.store.engine
    updated = []
    for member in members:
        fields = {"organization_id": org_id, "user_role": member.role}
        row = await users.update_user(engine, member.user_id, fields)
        updated.append(row or await users.create_user(engine, member.user_id, fields))
    await invalidate(state, ALL_KEYS)  # roles are read with the key
    return updated


@managed()
async def org_member_add(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``POST /organization/member_add`` -> ``{organization_id, updated_users}``."""
    req = mm.parse_body(MemberChange, await read_body(request))
    await _org_or_404(state, req.organization_id)
    roles.check_org_admin(ctx, req.organization_id)
    updated = await _set_members(state, req.organization_id, req.members())
    return {"organization_id": req.organization_id, "updated_users": updated}


@managed()
async def org_member_delete(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``DELETE /organization/member_delete`` ``{"organization_id", "user_id"}``."""
    req = mm.parse_body(MemberChange, await read_body(request))
    roles.check_org_admin(ctx, req.organization_id)
    removed = []
    for member in req.members():
        user = await users.get_user(state.store.engine, member.user_id)
        if user is not None and user.get("organization_id") == req.organization_id:
            fields = {"organization_id": None, "user_role": "internal_user"}
            removed.append(await users.update_user(state.store.engine, member.user_id, fields))
    if not removed:
        raise NotFoundError("no such member of this organization", param="user_id", code="member_not_found")
    await invalidate(state, ALL_KEYS)
    return {"organization_id": req.organization_id, "deleted_members": [r["user_id"] for r in removed if r]}


def routes() -> list[Route]:
    """The ``/organization/*`` routes."""
    return [
        Route("/organization/new", org_new, methods=["POST"]),
        Route("/organization/update", org_update, methods=["PATCH", "POST"]),
        Route("/organization/delete", org_delete, methods=["DELETE", "POST"]),
        Route("/organization/info", org_info, methods=["GET"]),
        Route("/organization/list", org_list, methods=["GET"]),
        Route("/organization/member_add", org_member_add, methods=["POST"]),
        Route("/organization/member_update", org_member_add, methods=["PATCH", "POST"]),
        Route("/organization/member_delete", org_member_delete, methods=["DELETE", "POST"]),
    ]
