"""What each dashboard role may read and change: the ONE place the dashboard decides.

Roles are LiteLLM's (``proxy_admin``, ``proxy_admin_viewer``, ``internal_user``,
``internal_user_viewer``) plus the team admin (a user listed in a team's ``members`` with role
``admin``). Until the management API has roles of its own (issue 17), ``role_for_user`` reads them from
``users.user_role`` and ``teams.members``; point ``role_for_user`` and ``may`` at that module when it lands.

| role | reads | changes |
| --- | --- | --- |
| proxy_admin | everything | everything |
| proxy_admin_viewer | everything | nothing |
| team admin | its teams (and their keys) | keys of its teams |
| internal_user | its own spend and keys | its own keys |
| internal_user_viewer | its own spend and keys | nothing |
| a virtual key without a user | that key's spend | nothing |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ledgerlm.proxy.ui.session import Principal
from ledgerlm.store.dashboard import Visible

__all__ = ["ADMIN_ROLES", "PAGES", "ROLES", "WRITABLE", "may", "role_for_user", "team_admin_of", "visible"]

ROLES = ("proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer")
ADMIN_ROLES = frozenset({"proxy_admin", "proxy_admin_viewer"})
ADMIN_PAGES = frozenset({"users", "end_users", "models", "reconciliation", "tag_drift"})
PAGES = (
    "overview",
    "logs",
    "keys",
    "teams",
    "users",
    "end_users",
    "budgets",
    "models",
    "reconciliation",
    "tag_drift",
)
WRITABLE = ("key", "team", "user", "end_user")


def role_for_user(user_role: str | None) -> str:
    """The dashboard role of a user row's ``user_role`` (unknown or empty: ``internal_user``)."""
    return user_role if user_role in ROLES else "internal_user"


def team_admin_of(user_id: str, teams: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Ids of the ``teams`` whose ``members`` list ``user_id`` with role ``admin``."""
    out = []
    for team in teams:
        for member in team.get("members") or []:
            if (
                isinstance(member, dict)
                and member.get("user_id") == user_id
                and member.get("role") == "admin"
            ):
                out.append(str(team["team_id"]))
    return tuple(sorted(set(out)))


def visible(principal: Principal) -> Visible:
    """The rows ``principal`` may read."""
    if principal.role in ADMIN_ROLES:
        return Visible(everything=True)
    if principal.admin_teams:
        return Visible(team_ids=frozenset(principal.admin_teams))
    if principal.user_id:
        return Visible(user_ids=frozenset({principal.user_id}))
    return Visible(key_hashes=frozenset({principal.key_hash} if principal.key_hash else ()))


def may(principal: Principal, action: str, *, team_id: str | None = None, user_id: str | None = None) -> bool:
    """Whether ``principal`` may do ``action``: ``read:<page>`` or ``write:<entity>`` (``key``, ``team``,
    ``user``, ``end_user``); ``team_id``/``user_id``: the owner of the key being written."""
    role = principal.role
    if action.startswith("read:"):
        return action[5:] not in ADMIN_PAGES or role in ADMIN_ROLES
    if role == "proxy_admin":
        return True
    if action != "write:key" or role.endswith("_viewer"):
        return False
    if principal.admin_teams and team_id in principal.admin_teams:
        return True
    return team_id is None and user_id is not None and user_id == principal.user_id
