"""``ui_handler(page)``: the wrapper of every ``/ui/api/*`` route: a session still valid in the store
(401; ``session_check``), the page's read
permission (403, ``roles.may``), query values without NUL, errors in the API's error format."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ledgerlm.errors import AuthenticationError, BadRequestError, PermissionDeniedError
from ledgerlm.proxy.http import error_response, json_response, reject_nul
from ledgerlm.proxy.state import ProxyState
from ledgerlm.proxy.ui.roles import may
from ledgerlm.proxy.ui.session import Principal
from ledgerlm.proxy.ui.session_check import current_principal

__all__ = ["UiHandler", "ui_handler"]

UiHandler = Callable[[Request, ProxyState, Principal], Awaitable[Any]]


def ui_handler(page: str) -> Callable[[UiHandler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a dashboard API handler for ``page`` (see module docstring)."""

    def wrap(fn: UiHandler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(fn)
        async def handler(request: Request) -> Response:
            try:
                principal = await current_principal(request)
                if principal is None:
                    raise AuthenticationError("not logged in: POST /login first", code="no_session")
                if not may(principal, f"read:{page}"):
                    raise PermissionDeniedError(f"your role may not read {page}", code="role_forbidden")
                reject_nul(dict(request.query_params.multi_items()), "query")
                result = await fn(request, request.app.state.proxy, principal)
            except ValueError as exc:
                return error_response(BadRequestError(str(exc), code="invalid_request"))
            except Exception as exc:
                return error_response(exc)
            return result if isinstance(result, Response) else json_response(result, any_keys=True)

        return handler

    return wrap
