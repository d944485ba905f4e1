"""The thin route glue the endpoint modules share until the call lifecycle wrapper lands: an endpoint
is a ``parse`` (request -> body) and a ``plan`` (admitted body -> deployment copy + upstream body +
encoder); ``run`` does the rest on today's ``ProxyCall`` path (auth, route, tags, hooks, admission, one
spend row, settle, errors in the OpenAI format).

::

    auth -> parse -> route(model, need) -> [admission] -> plan -> engine.chat -> encode
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ledgerlm import engine
from ledgerlm.errors import BadRequestError
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.openai import OpenAICompatibleProvider
from ledgerlm.providers.openai_endpoints import ENDPOINT_FLAG
from ledgerlm.proxy.call import ProxyCall, upstream_body
from ledgerlm.proxy.http import json_response, read_json_body
from ledgerlm.proxy.llm_routes import _start
from ledgerlm.record import CallType

__all__ = ["Endpoint", "Plan", "endpoint_deployment", "json_body", "openai_compatible", "run"]

Encoder = Callable[[ProxyCall, Any], Awaitable[Response]]


@dataclass(slots=True)
class Plan:
    """What to call: the per-call ``deployment`` copy, the ``upstream`` body, and ``encode`` (the
    endpoint's response from the engine result; default: the upstream bytes or JSON body)."""

    deployment: Deployment
    upstream: dict[str, Any]
    encode: Encoder | None = None
    stream: Callable[[ProxyCall, Plan], Awaitable[Response]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint: ``call_type``, the body field it needs, ``parse(request, call) -> body``,
    ``plan(call, admitted body) -> Plan``; ``admit`` False: no budget or rate-limit admission
    (free calls such as token counting)."""

    call_type: CallType
    need: str
    parse: Callable[[Request, ProxyCall], Awaitable[dict[str, Any]]]
    plan: Callable[[ProxyCall, dict[str, Any]], Plan]
    admit: bool = True


async def json_body(request: Request, call: ProxyCall) -> dict[str, Any]:
    """The JSON body (413 / 400 as for chat)."""
    return await read_json_body(request, call.state.max_body_bytes)


def openai_compatible(deployment: Deployment) -> bool:
    """True when the deployment's provider speaks the OpenAI wire format (Azure included)."""
    return isinstance(get_provider(deployment.provider), OpenAICompatibleProvider)


def endpoint_deployment(deployment: Deployment, price: Any, **extra: Any) -> Deployment:
    """A per-call copy of ``deployment`` with ``extra`` flags and ``price`` (the original's price is
    compiled first so the copy can wrap it)."""
    return dataclasses.replace(deployment, extra={**deployment.extra, **extra}, price=price)


def unsupported(deployment: Deployment, what: str, alternative: str) -> BadRequestError:
    """400 ``unsupported_call`` naming the deployment's provider and the alternative."""
    return BadRequestError(
        f"{what} is not available for provider {deployment.provider!r} (model group "
        f"{deployment.model_group!r}); use {alternative}",
        code="unsupported_call",
    )


def flagged(deployment: Deployment, endpoint_name: str, price: Any, **extra: Any) -> Deployment:
    """``endpoint_deployment`` with ``ENDPOINT_FLAG`` set to ``endpoint_name``."""
    return endpoint_deployment(deployment, price, **{ENDPOINT_FLAG: endpoint_name, **extra})


async def default_encode(call: ProxyCall, result: Any) -> Response:
    """The upstream bytes unchanged (or the JSON body), with the proxy's headers."""
    raw = getattr(result, "raw", None)
    headers = call.headers(result.record, result.cost.total)
    if raw:
        return Response(raw, media_type="application/json", headers=headers)
    return json_response(result.body, headers=headers)


async def run(request: Request, endpoint: Endpoint) -> Response:
    """The whole call for ``endpoint`` (see the module docstring)."""
    call = await _start(request, endpoint.call_type)
    if isinstance(call, Response):
        return call
    try:
        body = await endpoint.parse(request, call)
        call.route(body, need=endpoint.need)
        if endpoint.admit:
            admitted = await call.admit()
        else:
            admitted = upstream_body(body)
        assert call.deployment is not None
        plan = endpoint.plan(call, admitted)
        if call.stream and plan.stream is not None:
            return await plan.stream(call, plan)
        result = await engine.chat(plan.deployment, plan.upstream, **call.engine_kwargs())
    except asyncio.CancelledError:
        await asyncio.shield(call.settle(call.sink.record))
        raise
    except Exception as exc:
        return await call.fail(exc)
    call.sink.flush(call.content(), None)
    response = await (plan.encode or default_encode)(call, result)
    await call.settle(result.record)
    return response
