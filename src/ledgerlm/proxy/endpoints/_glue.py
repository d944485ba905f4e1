"""The small call path of the routes the lifecycle (``ledgerlm.proxy.lifecycle``) does not speak:
multipart uploads and audio answers (``audio``). Same steps, same guarantees (one spend row, admission
settled or released, failure hooks, OpenAI errors):

::

    auth (401, no row) -> parse (the endpoint's reader) -> route (404/403) -> admit (hooks, 429)
      -> plan (deployment copy + body) -> engine.chat -> encode (the endpoint's response) -> settle

Also ``log_call``: the single terminal event of a call the engine does not run (pass-through, mocks),
through the engine's ``Call`` and ``build_record``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ledgerlm import engine
from ledgerlm.engine.call import Call, CallOptions
from ledgerlm.engine.record import build_record
from ledgerlm.errors import APIError, BadRequestError, LedgerLMError
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.openai import OpenAICompatibleProvider
from ledgerlm.providers.openai.endpoints import ENDPOINT_FLAG
from ledgerlm.proxy.call import ProxyCall, operator_error, request_id_of
from ledgerlm.proxy.http import error_response
from ledgerlm.proxy.state import ProxyState
from ledgerlm.record import CallType
from ledgerlm.types import Cost, Usage

__all__ = [
    "Plan",
    "RawEndpoint",
    "flagged",
    "log_call",
    "open_call",
    "openai_compatible",
    "run",
    "unsupported",
]


@dataclass(slots=True)
class Plan:
    """What to call: the per-call ``deployment`` copy, the ``upstream`` body, and ``encode``
    (``(call, result) -> Response``)."""

    deployment: Deployment
    upstream: dict[str, Any]
    encode: Callable[[ProxyCall, Any], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class RawEndpoint:
    """A route outside the lifecycle: ``call_type``, the field it needs, ``parse(request, call) ->
    body``, ``plan(call, admitted) -> Plan``."""

    call_type: CallType
    need: str
    parse: Callable[[Request, ProxyCall], Awaitable[dict[str, Any]]]
    plan: Callable[[ProxyCall, dict[str, Any]], Plan]


def openai_compatible(deployment: Deployment) -> bool:
    """True when the deployment's provider speaks the OpenAI wire format (Azure included)."""
    return isinstance(get_provider(deployment.provider), OpenAICompatibleProvider)


def flagged(deployment: Deployment, endpoint_name: str, price: Any, **extra: Any) -> Deployment:
    """A per-call copy of ``deployment`` calling OpenAI endpoint ``endpoint_name`` (``ENDPOINT_FLAG``)
    with ``price`` and ``extra`` settings."""
    settings = {**deployment.extra, ENDPOINT_FLAG: endpoint_name, **extra}
    return dataclasses.replace(deployment, extra=settings, price=price)


def unsupported(deployment: Deployment, what: str, alternative: str) -> BadRequestError:
    """400 ``unsupported_call`` naming the deployment's provider and the alternative."""
    return BadRequestError(
        f"{what} is not available for provider {deployment.provider!r} (model group "
        f"{deployment.model_group!r}); use {alternative}",
        code="unsupported_call",
    )


async def open_call(request: Request, call_type: CallType) -> ProxyCall | Response:
    """Authenticate (401 with no spend row) and open the call (the overhead timer starts here)."""
    t0 = time.perf_counter()
    state: ProxyState = request.app.state.proxy
    request_id = request_id_of(request)
    try:
        key = await state.auth.authenticate(request.headers)
    except LedgerLMError as exc:
        return error_response(exc, {"x-request-id": request_id, "x-litellm-call-id": request_id})
    return ProxyCall(state, request, key, request_id, call_type, t0=t0)


async def fail(
    call: ProxyCall, exc: BaseException, error: Callable[..., Response] = error_response
) -> Response:
    """One failure row (unless one was written), admission released, failure hooks, the error."""
    if call.sink.record is None:
        call.write_failure(exc)
    await call.settle(call.sink.record)
    if call.state.hooks.failure:
        await call.state.hooks.post_failure(call.body, exc, call.hook_key())
    return error(operator_error(exc, call.deployment, call.model), call.headers())


async def run(request: Request, endpoint: RawEndpoint) -> Response:
    """The whole call for ``endpoint`` (see the module docstring)."""
    call = await open_call(request, endpoint.call_type)
    if isinstance(call, Response):
        return call
    try:
        body = await endpoint.parse(request, call)
        await call.route(body, need=endpoint.need)
        plan = endpoint.plan(call, await call.admit())
        result = await engine.chat(plan.deployment, plan.upstream, **call.engine_kwargs())
    except asyncio.CancelledError:
        if call.sink.record is None:
            call.write_failure(engine.ClientDisconnectedError("the client disconnected"))
        await asyncio.shield(call.settle(call.sink.record))
        raise
    except Exception as exc:
        return await fail(call, exc)
    call.sink.flush(call.content(), None)
    response = await plan.encode(call, result)
    await call.settle(result.record)
    return response


def log_call(
    call: ProxyCall,
    deployment: Deployment,
    usage: Usage,
    cost: Cost,
    *,
    error: APIError | None = None,
    response: Any = None,
    start: float | None = None,
) -> None:
    """The single terminal event of a call the engine did not run (pass-through, mock): the record
    built by the engine's builder, spooled through the call's sink, callbacks notified."""
    options = CallOptions(
        call.ctx, call.call_type, 0, None, tuple(call.state.callbacks.per_call or ()), (call.sink,)
    )
    one = Call(options, deployment, call.body, stream=call.stream, start=start or call.start_time)
    one.usage, one.cost = usage, cost
    one.default_api_base = get_provider(deployment.provider).default_api_base
    log = engine._open_log(one)
    answer = response if isinstance(response, dict) else None
    if error is None:
        log.success(build_record(one, response=answer), response)
    else:
        log.failure(build_record(one, error=error, response=answer), error)
