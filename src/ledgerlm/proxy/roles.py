"""Roles and authorization, in ONE place: who may call which management route, and on whose data.

Roles are LiteLLM's (``LitellmUserRoles`` in ``litellm/proxy/_types.py``, ``LiteLLMTeamRoles``):

* ``proxy_admin``: everything (the master key, or a key whose user has this role);
* ``proxy_admin_viewer``: reads everything, writes nothing;
* ``org_admin``: manages the teams and members of its own organization (``users.organization_id``);
* ``internal_user``: reads its own user info, keys and spend; generates, updates and deletes its OWN
  keys within its own limits (``max_budget``, ``models``); team member: keys for itself in its teams;
* ``internal_user_viewer``: reads its own user info, keys and spend; writes nothing;
* ``team``: a key that belongs to no user (a team's service key): LLM routes, its own key info and
  spend, and its team's info;
* team roles (``teams.members`` = ``members_with_roles``): ``admin`` manages the team's keys and members;
  ``user`` is a member.

Two steps, both here: ``gate(ctx, access)`` runs before the handler for every management route (route
level: the route's ``Access`` from ``ROUTE_ACCESS``, a missing route is ``ADMIN``: fail closed), then the
handler asks ``check_*`` about the target it resolved (a team row, a user id, a key row). Refusals are
``PermissionDeniedError`` (403, ``permission_denied``). docs/management.md carries the same table; a test
compares them and walks it over HTTP with a key of every role.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ledgerlm.errors import PermissionDeniedError
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.ui import DASHBOARD_PATHS

__all__ = [
    "ADMIN_ROLES",
    "ROLES",
    "ROUTE_ACCESS",
    "Access",
    "access_of",
    "allowed",
    "check_key_limits",
    "check_key_write",
    "check_org_admin",
    "check_read",
    "check_team_admin",
    "check_user_write",
    "gate",
    "role_of",
    "sees_all",
    "team_role",
]

PROXY_ADMIN = "proxy_admin"
PROXY_ADMIN_VIEWER = "proxy_admin_viewer"
ORG_ADMIN = "org_admin"
INTERNAL_USER = "internal_user"
INTERNAL_USER_VIEWER = "internal_user_viewer"
TEAM = "team"
CUSTOMER = "customer"
ROLES = (PROXY_ADMIN, PROXY_ADMIN_VIEWER, ORG_ADMIN, INTERNAL_USER, INTERNAL_USER_VIEWER, TEAM)
USER_ROLES = (*ROLES[:5], CUSTOMER)
ADMIN_ROLES = frozenset({PROXY_ADMIN, PROXY_ADMIN_VIEWER})
VIEWERS = frozenset({PROXY_ADMIN_VIEWER, INTERNAL_USER_VIEWER})
TEAM_ADMIN = "admin"
TEAM_MEMBER = "user"


class Access(enum.StrEnum):
    """What a route requires (the columns of the route x role table)."""

    PUBLIC = "public"  # no key
    LLM = "llm"  # any valid key (model and budget checks happen on the call)
    SELF_READ = "self_read"  # any valid key; non-admins see only their own key / user / team
    ADMIN_READ = "admin_read"  # proxy_admin, proxy_admin_viewer
    KEY_WRITE = "key_write"  # proxy_admin, org_admin, internal_user (own keys; team admin: team keys)
    TEAM_ADMIN = "team_admin"  # proxy_admin, org_admin (own org), a team admin (own team)
    ORG_ADMIN = "org_admin"  # proxy_admin, org_admin (own organization)
    ADMIN = "admin"  # proxy_admin only


_GATE: dict[Access, frozenset[str]] = {
    Access.PUBLIC: frozenset(ROLES),
    Access.LLM: frozenset(ROLES),
    Access.SELF_READ: frozenset(ROLES),
    Access.ADMIN_READ: ADMIN_ROLES,
    Access.KEY_WRITE: frozenset({PROXY_ADMIN, ORG_ADMIN, INTERNAL_USER}),
    Access.TEAM_ADMIN: frozenset({PROXY_ADMIN, ORG_ADMIN, INTERNAL_USER}),
    Access.ORG_ADMIN: frozenset({PROXY_ADMIN, ORG_ADMIN}),
    Access.ADMIN: frozenset({PROXY_ADMIN}),
}

_A = Access
ROUTE_ACCESS: dict[str, Access] = {
    # public and LLM routes (authenticated by their own endpoints; listed for the table)
    "/health": _A.ADMIN_READ,  # calls every deployment (LiteLLM's model health check)
    "/health/liveliness": _A.PUBLIC,
    "/health/readiness": _A.PUBLIC,
    "/openapi.json": _A.PUBLIC,
    "/metrics": _A.PUBLIC,
    "/v1/chat/completions": _A.LLM,
    "/chat/completions": _A.LLM,
    "/v1/embeddings": _A.LLM,
    "/embeddings": _A.LLM,
    "/v1/messages": _A.LLM,
    "/messages": _A.LLM,
    "/v1/models": _A.LLM,
    "/models": _A.LLM,
    "/routes": _A.ADMIN_READ,
    "/active/callbacks": _A.ADMIN_READ,
    # keys
    "/key/generate": _A.KEY_WRITE,
    "/key/update": _A.KEY_WRITE,
    "/key/delete": _A.KEY_WRITE,
    "/key/regenerate": _A.KEY_WRITE,
    "/key/{key}/regenerate": _A.KEY_WRITE,
    "/key/block": _A.KEY_WRITE,
    "/key/unblock": _A.KEY_WRITE,
    "/key/info": _A.SELF_READ,
    "/key/list": _A.SELF_READ,
    "/key/health": _A.SELF_READ,
    # teams
    "/team/new": _A.ORG_ADMIN,
    "/team/update": _A.TEAM_ADMIN,
    "/team/delete": _A.ORG_ADMIN,
    "/team/info": _A.SELF_READ,
    "/team/list": _A.SELF_READ,
    "/team/member_add": _A.TEAM_ADMIN,
    "/team/member_update": _A.TEAM_ADMIN,
    "/team/member_delete": _A.TEAM_ADMIN,
    "/team/block": _A.ADMIN,
    "/team/unblock": _A.ADMIN,
    "/team/model/add": _A.TEAM_ADMIN,
    "/team/model/delete": _A.TEAM_ADMIN,
    # organizations
    "/organization/new": _A.ADMIN,
    "/organization/update": _A.ORG_ADMIN,
    "/organization/delete": _A.ADMIN,
    "/organization/info": _A.SELF_READ,
    "/organization/list": _A.SELF_READ,
    "/organization/member_add": _A.ORG_ADMIN,
    "/organization/member_update": _A.ORG_ADMIN,
    "/organization/member_delete": _A.ORG_ADMIN,
    # internal users
    "/user/new": _A.ORG_ADMIN,
    "/user/update": _A.ORG_ADMIN,
    "/user/delete": _A.ADMIN,
    "/user/info": _A.SELF_READ,
    "/user/list": _A.ADMIN_READ,
    # spend
    "/spend/logs": _A.SELF_READ,
    "/spend/logs/v2": _A.SELF_READ,
    "/spend/tags": _A.SELF_READ,
    "/global/spend/report": _A.SELF_READ,
    "/global/spend/report/v2": _A.SELF_READ,
    "/global/spend/tags": _A.ADMIN_READ,
    "/global/spend/reset": _A.ADMIN,
    "/user/daily/activity": _A.SELF_READ,
    "/team/daily/activity": _A.SELF_READ,
    "/tag/daily/activity": _A.ADMIN_READ,
    "/tags/drift": _A.ADMIN_READ,  # tag governance (issue 20): unscoped, so admins and viewers
    # routing health (issue 16): filtered to the models the key may use
    "/model/info": _A.SELF_READ,
    "/v1/model/info": _A.SELF_READ,
    "/model_group/info": _A.SELF_READ,
    # reconciliation runs (issue 18)
    "/reconcile/runs": _A.ADMIN,
    "/reconcile/runs/{run_id}": _A.ADMIN,
    # closed periods (issue 19)
    "/period/close": _A.ADMIN,
    "/period/list": _A.ADMIN_READ,
    # spend alerts: throttles and recent alerts (issue 23)
    "/alerts/throttles": _A.ADMIN,
    "/alerts/throttle/clear": _A.ADMIN,
    "/alerts/recent": _A.ADMIN,
}
_LLM_PATHS = (  # issue 15's inference endpoints (authenticated by the call lifecycle)
    "/v1/responses",
    "/responses",
    "/v1/responses/{response_id}",
    "/responses/{response_id}",
    "/v1/responses/{response_id}/input_items",
    "/responses/{response_id}/input_items",
    "/v2/rerank",
    *(
        f"{prefix}{path}"
        for prefix in ("/v1", "")
        for path in (
            "/completions",
            "/images/generations",
            "/images/edits",
            "/images/variations",
            "/audio/transcriptions",
            "/audio/translations",
            "/audio/speech",
            "/moderations",
            "/rerank",
            "/messages/count_tokens",
        )
    ),
    *(f"/{prefix}/{{path:path}}" for prefix in ("openai", "anthropic", "gemini", "vertex_ai", "bedrock")),
    *(
        f"/openai/deployments/{{deployment}}/{path}"
        for path in (
            "chat/completions",
            "embeddings",
            "completions",
            "images/generations",
            "audio/transcriptions",
            "audio/speech",
            "images/edits",
            "audio/translations",
        )
    ),
)
ROUTE_ACCESS |= dict.fromkeys(_LLM_PATHS, _A.LLM)
for _prefix in ("/customer", "/end_user"):
    ROUTE_ACCESS |= {
        f"{_prefix}/new": _A.ADMIN,
        f"{_prefix}/update": _A.ADMIN,
        f"{_prefix}/delete": _A.ADMIN,
        f"{_prefix}/block": _A.ADMIN,
        f"{_prefix}/unblock": _A.ADMIN,
        f"{_prefix}/info": _A.ADMIN_READ,
        f"{_prefix}/list": _A.ADMIN_READ,
    }
# the dashboard (issue 21): no bearer key; its own session cookie and role checks (proxy/ui/roles.py)
ROUTE_ACCESS |= dict.fromkeys(DASHBOARD_PATHS, _A.PUBLIC)
for _verb in ("new", "update", "delete"):
    ROUTE_ACCESS[f"/budget/{_verb}"] = _A.ADMIN
    ROUTE_ACCESS[f"/model/{_verb}"] = _A.ADMIN
for _verb in ("info", "list"):
    ROUTE_ACCESS[f"/budget/{_verb}"] = _A.ADMIN_READ
for _verb in ("new", "update", "delete"):
    ROUTE_ACCESS[f"/tag/{_verb}"] = _A.ADMIN
for _verb in ("info", "list"):
    ROUTE_ACCESS[f"/tag/{_verb}"] = _A.ADMIN_READ


_TEMPLATES = [
    (re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(p)) + "$"), a)
    for p, a in ROUTE_ACCESS.items()
    if "{" in p
]


def access_of(path: str) -> Access:
    """The ``Access`` of a request path (templates such as ``/key/{key}/regenerate`` match); a path not
    in the table is ``ADMIN`` (fail closed)."""
    found = ROUTE_ACCESS.get(path)
    if found is not None:
        return found
    return next((access for pattern, access in _TEMPLATES if pattern.match(path)), Access.ADMIN)


def role_of(ctx: KeyContext) -> str:
    """The caller's role: ``proxy_admin`` for the master key; else the role of the key's user
    (``internal_user`` when the user has none or an unknown one); ``team`` for a key without a user."""
    if ctx.is_admin:
        return PROXY_ADMIN
    role = ctx.user_role
    if role in USER_ROLES and role != CUSTOMER:
        return role
    return INTERNAL_USER if ctx.user_id else TEAM


def allowed(role: str, access: Access) -> bool:
    """Whether ``role`` passes the route-level gate of ``access`` (the table's cell)."""
    return role in _GATE[access]


def gate(ctx: KeyContext, access: Access) -> None:
    """Route-level check; raises ``PermissionDeniedError`` (403) naming the role and the need."""
    role = role_of(ctx)
    if not allowed(role, access):
        raise PermissionDeniedError(
            f"role {role!r} may not call this route (it needs {access.value})", code="insufficient_role"
        )


def sees_all(ctx: KeyContext) -> bool:
    """proxy_admin and proxy_admin_viewer read every row; everyone else only their own."""
    return role_of(ctx) in ADMIN_ROLES


def team_role(ctx: KeyContext, team: Mapping[str, Any] | None) -> str | None:
    """The caller's role in ``team`` (``admin``/``user`` from ``members_with_roles``), or None."""
    if team is None or not ctx.user_id:
        return None
    for member in team.get("members") or []:
        if isinstance(member, Mapping) and member.get("user_id") == ctx.user_id:
            return str(member.get("role") or TEAM_MEMBER)
    return None


def _org_admin_of(ctx: KeyContext, organization_id: str | None) -> bool:
    return bool(organization_id and role_of(ctx) == ORG_ADMIN and ctx.user_organization_id == organization_id)


def _deny(message: str) -> PermissionDeniedError:
    return PermissionDeniedError(message, code="not_allowed_for_target")


def check_team_admin(ctx: KeyContext, team: Mapping[str, Any]) -> None:
    """proxy_admin, the org admin of the team's organization, or an ``admin`` member of the team."""
    if role_of(ctx) == PROXY_ADMIN or _org_admin_of(ctx, team.get("organization_id")):
        return
    if role_of(ctx) not in VIEWERS and team_role(ctx, team) == TEAM_ADMIN:
        return
    raise _deny(f"only an admin of team {team.get('team_id')!r} may do this")


def check_org_admin(ctx: KeyContext, organization_id: str | None) -> None:
    """proxy_admin, or the org admin of ``organization_id``."""
    if role_of(ctx) == PROXY_ADMIN or _org_admin_of(ctx, organization_id):
        return
    raise _deny(f"only an admin of organization {organization_id!r} may do this")


def check_user_write(ctx: KeyContext, organization_id: str | None, user_role: str | None) -> None:
    """Create/update a user: proxy_admin any; an org admin only users of its organization, never
    with a proxy-wide role (``proxy_admin``, ``proxy_admin_viewer``)."""
    if role_of(ctx) == PROXY_ADMIN:
        return
    check_org_admin(ctx, organization_id)
    if user_role in ADMIN_ROLES:
        raise _deny(f"an org admin may not grant the role {user_role!r}")


def check_key_write(ctx: KeyContext, *, team: Mapping[str, Any] | None, owner: str | None) -> None:
    """May the caller create/change/delete a key of ``team`` (row or None) owned by user ``owner``?

    proxy_admin: any. Team keys: a team admin (or the team's org admin) any key of the team; a team
    member only its own. Personal keys: only the owner (an internal user).
    """
    if role_of(ctx) == PROXY_ADMIN:
        return
    if team is not None:
        with_team_admin = _is_team_admin(ctx, team)
        if with_team_admin or (team_role(ctx, team) is not None and owner == ctx.user_id):
            return
        raise _deny(f"not a member allowed to manage keys of team {team.get('team_id')!r}")
    if owner is not None and owner == ctx.user_id:
        return
    raise _deny("an internal user may only manage its own keys")


def _is_team_admin(ctx: KeyContext, team: Mapping[str, Any]) -> bool:
    try:
        check_team_admin(ctx, team)
    except PermissionDeniedError:
        return False
    return True


def check_key_limits(ctx: KeyContext, user: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> None:
    """An internal user's own key stays within the user's limits: ``max_budget`` no higher than the
    user's, ``models`` within the user's (when the user has a list). proxy_admin: no limit."""
    if role_of(ctx) == PROXY_ADMIN or user is None:
        return
    cap = user.get("max_budget")
    wanted = fields.get("max_budget")
    if cap is not None and (wanted is None or Decimal(str(wanted)) > Decimal(str(cap))):
        raise _deny(f"max_budget must be set and at most the user's max_budget ({cap})")
    allowed_models = list(user.get("models") or [])
    models = list(fields.get("models") or [])
    if allowed_models and (not models or not set(models) <= set(allowed_models)):
        raise _deny(f"models must be a subset of the user's models {allowed_models}")


def check_read(
    ctx: KeyContext,
    *,
    user_id: str | None = None,
    team: Mapping[str, Any] | None = None,
    key: Mapping[str, Any] | None = None,
    organization_id: str | None = None,
) -> None:
    """Reads: admins read all; a caller reads its own user, its own keys (or its user's), teams it
    belongs to (a team key: its own team), and an org admin its organization."""
    if sees_all(ctx):
        return
    if user_id is not None and user_id == ctx.user_id:
        return
    if key is not None and key.get("token") == ctx.token:
        return
    if key is not None and ctx.user_id and key.get("user_id") == ctx.user_id:
        return
    if team is not None and (team.get("team_id") == ctx.team_id or team_role(ctx, team) is not None):
        return
    if team is not None and _org_admin_of(ctx, team.get("organization_id")):
        return
    if organization_id is not None and (
        _org_admin_of(ctx, organization_id) or ctx.user_organization_id == organization_id
    ):
        return
    raise _deny("you may only read your own user, keys, teams and organization")
