"""Stored responses: ``GET`` / ``DELETE /v1/responses/{response_id}`` and
``GET /v1/responses/{response_id}/input_items`` (and the paths without ``/v1``), as lifecycle
``Endpoint`` values (``body_readers.read_nothing``, the target found by ``resolve``, never admitted).

OpenAI and Azure store responses (``store: true``, their default). The proxy remembers which
deployment answered each response id it relayed (``StoredResponses``: the newest ``MAX_REMEMBERED``,
in memory, per app) and forwards these calls there with the deployment's credentials; the query string
(``after``, ``limit``, ``order``, ``include``) is passed on. Only the virtual key that created a
response (or the master key) may read or delete it; any other id answers 404 in OpenAI's error shape.
These calls cost nothing: each leaves one $0 spend row (LiteLLM's call types ``aget_responses``,
``adelete_responses``, ``alist_input_items``; a failure row for a refused or failed one).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm.engine.call import CallOptions
from ledgerlm.errors import APIError, NotFoundError
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment, HTTPRequest
from ledgerlm.proxy.body_readers import read_nothing
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints.logged import Outcome, RawResult, log_call
from ledgerlm.proxy.http import error_response
from ledgerlm.proxy.lifecycle import Endpoint, Reply, Upstream, inference_route
from ledgerlm.record import CallType
from ledgerlm.transport import SendOptions, send_with
from ledgerlm.types import Cost, Usage

__all__ = ["MAX_REMEMBERED", "StoredResponses", "routes", "store_of"]

MAX_REMEMBERED = 10_000
_FREE = Cost(total=Decimal(0), breakdown={"request": Decimal(0)})


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


async def _resolve(call: ProxyCall, body: dict[str, Any]) -> None:
    """The deployment that answered the response id (404 unless this key, or the master key, made it)."""
    response_id = call.request.path_params["response_id"]
    owner = store_of(call.request).owner(response_id)
    if owner is None or not (call.key.is_admin or owner.key_token == call.key.token):
        raise NotFoundError(f"No response with id {response_id!r} found.", code="response_not_found")
    call.deployment = owner.deployment
    call.model = owner.deployment.model_group or owner.deployment.model
    call.ctx.model_group = call.model


def _prepare(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
    """The provider request: ``{responses url}/{id}{suffix}`` with the client's query string."""
    deployment = call.deployment
    assert deployment is not None
    provider: Any = get_provider(deployment.provider)
    suffix = "/input_items" if call.call_type == "alist_input_items" else ""
    url = provider.responses_url(deployment, f"/{call.request.path_params['response_id']}{suffix}")
    if call.request.url.query:
        url += ("&" if "?" in url else "?") + call.request.url.query
    http = HTTPRequest(call.request.method, url, provider.headers(deployment, None), b"")
    return Upstream(deployment, admitted, native=True, kwargs={"http": http})


async def _fetch(
    deployment: Deployment, body: dict[str, Any], options: CallOptions, *, http: HTTPRequest
) -> RawResult:
    """Send the lookup; one $0 row (a failure row when the provider refuses)."""
    provider = get_provider(deployment.provider)
    try:
        mapper = partial(provider.error_from_response, deployment)
        timeout = deployment.timeout or options.timeout
        sending = SendOptions(mapper, provider.name, deployment.model, timeout, num_retries=0)
        sent = await send_with(options.in_runtime().transport, http, sending)
    except APIError as exc:
        log_call(deployment, body, options, Outcome(Usage(), _FREE, error=exc))
        raise
    record = log_call(deployment, body, options, Outcome(Usage(), _FREE))
    return RawResult(sent.body or b"{}", sent.status, {}, None, record, _FREE)


def _encode(call: ProxyCall, upstream: Upstream, result: Any) -> Reply:
    if call.call_type == "adelete_responses":
        store_of(call.request).forget(call.request.path_params["response_id"])
    return Reply(result.raw, status=result.status)


def _endpoint(call_type: CallType, name: str) -> Endpoint:
    return Endpoint(
        call_type=call_type,
        need="",
        call=_fetch,
        encode=_encode,
        error=error_response,
        prepare=_prepare,
        read=read_nothing,
        resolve=_resolve,
        admit=False,
        name=name,
    )


_GET = inference_route(_endpoint("aget_responses", "get_response"))
_DELETE = inference_route(_endpoint("adelete_responses", "delete_response"))
input_items = inference_route(_endpoint("alist_input_items", "input_items"))


async def stored_response(request: Request) -> Response:
    """``GET`` / ``DELETE /v1/responses/{response_id}``."""
    handler: Callable[[Request], Awaitable[Response]] = _DELETE if request.method == "DELETE" else _GET
    return await handler(request)


def routes() -> list[Route]:
    """The stored-response routes, with and without ``/v1``."""
    out: list[Route] = []
    for prefix in ("/v1", ""):
        out.append(Route(f"{prefix}/responses/{{response_id}}", stored_response, methods=["GET", "DELETE"]))
        out.append(Route(f"{prefix}/responses/{{response_id}}/input_items", input_items, methods=["GET"]))
    return out
