"""Dashboard changes: ``POST /ui/api/<entity>/<action>`` with a JSON body.

| route | body | does (as the management API) |
| --- | --- | --- |
| ``/ui/api/keys/new`` | ``/key/generate`` fields | ``POST /key/generate`` (the key is shown once) |
| ``/ui/api/keys/update`` | ``key`` (hash) + fields | ``POST /key/update`` |
| ``/ui/api/keys/block`` | ``key``, ``blocked`` | ``POST /key/update`` |
| ``/ui/api/keys/regenerate`` | ``key`` | new secret in place (``store.keys.regenerate_key``) |
| ``/ui/api/teams/new`` | ``/team/new`` fields | ``POST /team/new`` |
| ``/ui/api/teams/update``, ``block`` | ``team_id`` + fields | ``POST /team/update`` |
| ``/ui/api/users/new`` | ``/user/new`` fields (``password``) | ``POST /user/new`` |
| ``/ui/api/end_users/new`` | ``/customer/new`` fields | ``POST /customer/new`` |
| ``/ui/api/end_users/block`` | ``user_id``, ``blocked`` | ``store.customers.update_customer`` |

Who may: ``roles.may`` (``write:key`` with the key's team and user). Requests must be
``application/json`` (with the ``SameSite=Strict`` cookie, a cross-site form cannot post here).
The management route's status and error body are passed through.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm.errors import BadRequestError, NotFoundError, PermissionDeniedError
from ledgerlm.proxy.auth import generate_key
from ledgerlm.proxy.http import json_response, read_json_body
from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.ui.guard import ui_handler
from ledgerlm.proxy.ui.internal import call_route
from ledgerlm.proxy.ui.roles import may
from ledgerlm.proxy.ui.session import Principal

__all__ = ["routes"]

MAX_BODY = 256 * 1024


async def _body(request: Request) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise BadRequestError("send application/json", code="json_required")
    return await read_json_body(request, MAX_BODY, forbid_nul=True)


def _require(principal: Principal, entity: str, **owner: str | None) -> None:
    if not may(principal, f"write:{entity}", **owner):
        raise PermissionDeniedError(f"your role may not change this {entity}", code="role_forbidden")


async def _forward(request: Request, path: str, body: dict[str, Any]) -> Response:
    status, answer = await call_route(request, "POST", path, body)
    return json_response(answer, status=status, any_keys=True)


async def _key_owner(state: ProxyState, key: str) -> dict[str, Any]:
    from ledgerlm.store import keys

    row = await keys.get_key(state.store.engine, key) if key else None
    if row is None:
        raise NotFoundError("no such key", param="key", code="key_not_found")
    return row


@ui_handler("keys")
async def key_new(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``POST /ui/api/keys/new``: an internal user's own key gets its ``user_id`` by default."""
    body = await _body(request)
    if principal.role != "proxy_admin" and not body.get("team_id"):
        body.setdefault("user_id", principal.user_id)
    _require(principal, "key", team_id=body.get("team_id"), user_id=body.get("user_id"))
    return await _forward(request, "/key/generate", body)


@ui_handler("keys")
async def key_update(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``POST /ui/api/keys/update`` and ``/ui/api/keys/block`` (``{"key", "blocked"}``)."""
    body = await _body(request)
    row = await _key_owner(state, str(body.get("key") or ""))
    _require(principal, "key", team_id=row["team_id"], user_id=row["user_id"])
    if principal.role != "proxy_admin":
        body.pop("team_id", None)
        body.pop("user_id", None)
    return await _forward(request, "/key/update", {**body, "key": row["token"]})


@ui_handler("keys")
async def key_regenerate(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``POST /ui/api/keys/regenerate`` ``{"key"}`` -> ``{"key": new key (shown once), "token"}``."""
    from ledgerlm.store import keys

    row = await _key_owner(state, str((await _body(request)).get("key") or ""))
    _require(principal, "key", team_id=row["team_id"], user_id=row["user_id"])
    new_key = generate_key()
    updated = await keys.regenerate_key(state.store.engine, row["token"], new_key)
    if updated is None:
        raise NotFoundError("no such key", param="key", code="key_not_found")
    state.auth.cache.invalidate(row["token"])
    await state.key_events.publish(row["token"])
    return {"key": new_key, "token": updated["token"], "key_name": updated["key_name"]}


@ui_handler("teams")
async def team_new(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``POST /ui/api/teams/new``."""
    body = await _body(request)
    _require(principal, "team")
    return await _forward(request, "/team/new", body)


@ui_handler("teams")
async def team_update(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``POST /ui/api/teams/update`` and ``/ui/api/teams/block``."""
    body = await _body(request)
    _require(principal, "team")
    return await _forward(request, "/team/update", body)


@ui_handler("users")
async def user_new(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``POST /ui/api/users/new``."""
    body = await _body(request)
    _require(principal, "user")
    return await _forward(request, "/user/new", body)


@ui_handler("end_users")
async def end_user_new(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``POST /ui/api/end_users/new``."""
    body = await _body(request)
    _require(principal, "end_user")
    return await _forward(request, "/customer/new", body)


@ui_handler("end_users")
async def end_user_block(request: Request, state: ProxyState, principal: Principal) -> Any:
    """``POST /ui/api/end_users/block`` ``{"user_id", "blocked"}``."""
    from ledgerlm.store import customers

    body = await _body(request)
    _require(principal, "end_user")
    row = await customers.update_customer(
        state.store.engine, str(body.get("user_id") or ""), {"blocked": bool(body.get("blocked", True))}
    )
    if row is None:
        raise NotFoundError("no such end user", param="user_id", code="end_user_not_found")
    return row


def routes() -> list[Route]:
    """The write routes of the dashboard API."""
    return [
        Route("/ui/api/keys/new", key_new, methods=["POST"]),
        Route("/ui/api/keys/update", key_update, methods=["POST"]),
        Route("/ui/api/keys/block", key_update, methods=["POST"]),
        Route("/ui/api/keys/regenerate", key_regenerate, methods=["POST"]),
        Route("/ui/api/teams/new", team_new, methods=["POST"]),
        Route("/ui/api/teams/update", team_update, methods=["POST"]),
        Route("/ui/api/teams/block", team_update, methods=["POST"]),
        Route("/ui/api/users/new", user_new, methods=["POST"]),
        Route("/ui/api/end_users/new", end_user_new, methods=["POST"]),
        Route("/ui/api/end_users/block", end_user_block, methods=["POST"]),
    ]
