"""Dashboard sessions re-checked on every request; ``GET /ui/api/me``.

``current_principal(request)``: the cookie's principal (``login.principal_of``) checked against the
store at EVERY request, so a change takes effect at the person's next click:

* a session opened with a virtual key ends when that key is blocked, expired, deleted or its team is
  blocked (``StoreLink.lookup_key``: one primary-key read of the key, its team and its user);
* a session of a user (key or password login) ends when the user is deleted; the user's role is read
  again (a role changed by ``/user/update`` applies at once). Team-admin rights (``admin_teams``) are
  those of the log-in time: a membership change applies at the next log-in;
* the master key's session needs no check (changing the master key changes the cookie secret).

"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from ledgerlm.errors import AuthenticationError
from ledgerlm.proxy.http import error_response, json_response
from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.ui.login import describe, principal_of
from ledgerlm.proxy.ui.roles import role_for_user
from ledgerlm.proxy.ui.session import Principal

__all__ = ["current_principal", "me", "recheck"]


async def _key_alive(state: ProxyState, key_hash: str) -> bool:
    ctx = await state.store.lookup_key(key_hash)
    if ctx is None or ctx.blocked:
        return False
    expires = ctx.expires
    if expires is None:
        return True
    expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    return expires > datetime.now(UTC)


async def recheck(state: ProxyState, principal: Principal) -> Principal | None:
    """``principal`` as the store sees it now (role re-read), or ``None`` when it may no longer log in."""
    from ledgerlm.store import users

    if principal.login == "master_key":
        return principal
    if principal.key_hash is not None and not await _key_alive(state, principal.key_hash):
        return None
    if principal.user_id is None:
        return principal
    row = await users.get_user(state.store.engine, principal.user_id)
    if row is None:
        return None
    role = role_for_user(row.get("user_role"))
    return principal if role == principal.role else replace(principal, role=role)


async def current_principal(request: Request) -> Principal | None:
    """The logged-in principal of ``request``, re-checked against the store (module docstring)."""
    principal = principal_of(request)
    if principal is None:
        return None
    return await recheck(request.app.state.proxy, principal)


async def me(request: Request) -> Response:
    """``GET /ui/api/me``: the logged-in principal (401 when none or no longer valid)."""
    principal = await current_principal(request)
    if principal is None:
        return error_response(AuthenticationError("not logged in", code="no_session"))
    return json_response(describe(principal))
