"""Stored responses: ``GET`` / ``DELETE /v1/responses/{response_id}`` and
``GET /v1/responses/{response_id}/input_items`` (and the paths without ``/v1``).

OpenAI and Azure store responses (``store: true``, their default). The proxy remembers which
deployment answered each response id it relayed (``StoredResponses``: the newest ``MAX_REMEMBERED``,
in memory, per app) and forwards these calls there with the deployment's credentials; the query string
(``after``, ``limit``, ``order``, ``include``) is passed on. Only the virtual key that created a
response (or the master key) may read or delete it; any other id answers 404 in OpenAI's error shape.
These calls cost nothing and write no spend row.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm.errors import LedgerLMError, NotFoundError
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment, HTTPRequest
from ledgerlm.proxy.http import error_response
from ledgerlm.proxy.state import ProxyState
from ledgerlm.transport import send

__all__ = ["MAX_REMEMBERED", "StoredResponses", "routes", "store_of"]

MAX_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class _Owner:
    deployment: Deployment
    key_token: str | None


class StoredResponses:
    """Bounded map ``response id -> (deployment, creating key's hash)``; oldest forgotten first."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self.limit = limit
        self._owners: OrderedDict[str, _Owner] = OrderedDict()

    def remember(self, response_id: object, deployment: Deployment, key_token: str | None) -> None:
        """Remember ``response_id`` (ignored unless a non-empty string)."""
        if not isinstance(response_id, str) or not response_id:
            return
        self._owners[response_id] = _Owner(deployment, key_token)
        self._owners.move_to_end(response_id)
        while len(self._owners) > self.limit:
            self._owners.popitem(last=False)

    def owner(self, response_id: str) -> _Owner | None:
        return self._owners.get(response_id)

    def forget(self, response_id: str) -> None:
        self._owners.pop(response_id, None)


def store_of(request: Request) -> StoredResponses:
    """The app's ``StoredResponses`` (created on first use)."""
    app_state = request.app.state
    stored = getattr(app_state, "stored_responses", None)
    if stored is None:
        stored = StoredResponses()
        app_state.stored_responses = stored
    return stored


async def _forward(request: Request, suffix: str) -> Response:
    state: ProxyState = request.app.state.proxy
    try:
        key = await state.auth.authenticate(request.headers)
        response_id = request.path_params["response_id"]
        stored = store_of(request)
        owner = stored.owner(response_id)
        if owner is None or not (key.is_admin or owner.key_token == key.token):
            raise NotFoundError(f"No response with id {response_id!r} found.", code="response_not_found")
        deployment = owner.deployment
        provider = get_provider(deployment.provider)
        url = provider.responses_url(deployment, f"/{response_id}{suffix}")  # type: ignore[attr-defined]
        if request.url.query:
            url += ("&" if "?" in url else "?") + request.url.query
        headers = provider.headers(deployment, None)  # type: ignore[attr-defined]
        sent = await send(
            HTTPRequest(request.method, url, headers, b""),
            map_error=lambda s, b, h: provider.error_from_response(deployment, s, b, h),
            provider=provider.name,
            model=deployment.model,
            timeout=deployment.timeout or state.timeout,
            num_retries=0,
        )
    except LedgerLMError as exc:
        return error_response(exc)
    if request.method == "DELETE":
        stored.forget(response_id)
    return Response(sent.body or b"{}", status_code=sent.status, media_type="application/json")


async def stored_response(request: Request) -> Response:
    """``GET`` / ``DELETE /v1/responses/{response_id}``."""
    return await _forward(request, "")


async def input_items(request: Request) -> Response:
    """``GET /v1/responses/{response_id}/input_items``."""
    return await _forward(request, "/input_items")


def routes() -> list[Route]:
    """The stored-response routes, with and without ``/v1``."""
    out: list[Route] = []
    for prefix in ("/v1", ""):
        out.append(Route(f"{prefix}/responses/{{response_id}}", stored_response, methods=["GET", "DELETE"]))
        out.append(Route(f"{prefix}/responses/{{response_id}}/input_items", input_items, methods=["GET"]))
    return out
