"""LiteLLM-style ``/login`` for the dashboard, ``/logout``, and ``principal_of`` (the cookie's principal;
``session_check.current_principal`` re-checks it against the store).

``POST /login`` takes ``username`` and ``password`` (JSON or a form). The password may be:

* the master key (any username): ``proxy_admin``;
* a user's virtual key (``sk-...``; blocked or expired keys are refused): that key's user with the
  user's role (``roles.role_for_user``), or, for a key without a user, a principal limited to that key;
* a user's password (``/user/new`` with ``password``; ``username`` is the ``user_id`` or ``user_email``).

Success: 200 ``{"role", "user_id", "redirect": "/ui/"}`` (303 to ``/ui/`` for a form post) with the
session cookie; anything else: 401 in the API's error format, the same for every wrong credential.
After 5 failures of one username from one client IP (or 30 from one IP) in 5 minutes: 429
``too_many_login_attempts`` with ``Retry-After`` (``login_limit``; counted on Redis across instances
when the proxy has Redis).
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ledgerlm.errors import AuthenticationError, BadRequestError
from ledgerlm.proxy.auth import KeyContext, hash_key
from ledgerlm.proxy.http import error_response, json_response, read_json_body
from ledgerlm.proxy.passwords import verify_password
from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.ui.login_limit import limiter
from ledgerlm.proxy.ui.roles import PAGES, WRITABLE, may, role_for_user, team_admin_of
from ledgerlm.proxy.ui.session import COOKIE, SESSION_TTL_S, Principal, SessionSigner

__all__ = ["describe", "login", "logout", "principal_of", "signer"]

MAX_LOGIN_BODY = 16 * 1024
_REFUSED = "invalid username or password"


def signer(state: ProxyState) -> SessionSigner:
    """The proxy's session signer (made once, kept in ``state.extra``)."""
    found = state.extra.get("ui_signer")
    if not isinstance(found, SessionSigner):
        found = SessionSigner(state.auth.master_key)
        state.extra["ui_signer"] = found
    return found


def principal_of(request: Request) -> Principal | None:
    """The logged-in principal of ``request`` (its session cookie), or ``None``."""
    return signer(request.app.state.proxy).read(request.cookies.get(COOKIE))


async def _credentials(request: Request) -> tuple[str, str]:
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        username, password = form.get("username"), form.get("password")
    else:
        body = await read_json_body(request, MAX_LOGIN_BODY, forbid_nul=True)
        username, password = body.get("username"), body.get("password")
    if not isinstance(password, str) or not password:
        raise BadRequestError("password is required", param="password", code="missing_password")
    return (username if isinstance(username, str) else ""), password


async def _user_principal(state: ProxyState, user_id: str, login: str, key_hash: str | None) -> Principal:
    from ledgerlm.store import teams, users

    row = await users.get_user(state.store.engine, user_id)
    team_rows = await teams.list_teams(state.store.engine, limit=10_000)
    return Principal(
        role=role_for_user(None if row is None else row.get("user_role")),
        user_id=user_id,
        key_hash=key_hash,
        admin_teams=team_admin_of(user_id, team_rows),
        login=login,
    )


async def _key_principal(state: ProxyState, key: str) -> Principal:
    ctx: KeyContext = await state.auth.authenticate({"authorization": f"Bearer {key}"})
    if ctx.is_admin:
        return Principal(role="proxy_admin", login="master_key")
    if ctx.user_id:
        return await _user_principal(state, ctx.user_id, "key", hash_key(key))
    return Principal(role="internal_user_viewer", key_hash=hash_key(key), login="key")


async def authenticate_login(state: ProxyState, username: str, password: str) -> Principal:
    """The principal for these credentials; ``AuthenticationError`` (401) otherwise."""
    from ledgerlm.store import users

    master = state.auth.master_key
    if master is None or hmac.compare_digest(password.encode(), master.encode()):
        return Principal(role="proxy_admin", login="master_key")
    if password.startswith("sk-"):
        try:
            return await _key_principal(state, password)
        except AuthenticationError:
            raise AuthenticationError(_REFUSED, code="invalid_login") from None
    row = await users.login_row(state.store.engine, username) if username else None
    if row is None or not verify_password(password, row["password_hash"]):
        raise AuthenticationError(_REFUSED, code="invalid_login")
    return await _user_principal(state, row["user_id"], "password", None)


def describe(principal: Principal) -> dict[str, Any]:
    return {
        "role": principal.role,
        "user_id": principal.user_id,
        "admin_teams": list(principal.admin_teams),
        "login": principal.login,
        "key_name": None if principal.key_hash is None else f"key {principal.key_hash[:8]}",
        "pages": [page for page in PAGES if may(principal, f"read:{page}")],
        "writes": [entity for entity in WRITABLE if _writes(principal, entity)],
    }


def _writes(principal: Principal, entity: str) -> bool:
    """Whether the page of ``entity`` shows its edit forms (the server checks each change again)."""
    if entity != "key":
        return may(principal, f"write:{entity}")
    owners = [{"team_id": team} for team in principal.admin_teams] + [{"user_id": principal.user_id}]
    return any(may(principal, "write:key", **owner) for owner in owners)


async def login(request: Request) -> Response:
    """``POST /login`` (see module docstring)."""
    state: ProxyState = request.app.state.proxy
    form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    attempts = limiter(state)
    ip = request.client.host if request.client else ""
    username = ""
    try:
        username, password = await _credentials(request)
        await attempts.check(username, ip)
        principal = await authenticate_login(state, username, password)
    except AuthenticationError as exc:
        await attempts.failed(username, ip)
        return error_response(exc)
    except Exception as exc:
        return error_response(exc)
    await attempts.succeeded(username, ip)
    response: Response = (
        RedirectResponse("/ui/", status_code=303)
        if form
        else json_response({**describe(principal), "redirect": "/ui/"})
    )
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE,
        signer(state).sign(principal),
        max_age=SESSION_TTL_S,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    """``POST /logout``: clears the session cookie."""
    response = json_response({"status": "logged out"})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
