"""Pass-through routes ``/openai/*``, ``/anthropic/*``, ``/gemini/*``, ``/vertex_ai/*``, ``/bedrock/*``
(LiteLLM's names): a provider SDK pointed at ``{proxy}/anthropic`` (etc.) with a proxy key gets spend
tracking without changing formats. A lifecycle ``Endpoint`` (``ledgerlm.proxy.lifecycle``):

::

    credentials (Authorization / x-api-key / api-key / x-goog-api-key / ?key= / x-litellm-api-key)
      -> read_raw (the bytes as sent) -> resolve (passthrough_targets: provider, model, deployment
         whose credentials are used, tags) -> pre-call hooks (may refuse; a body they change is sent
         re-encoded) -> admission on the body -> send the body AS IS (one attempt, no router)
      -> answer relayed unchanged (``Reply`` with the provider's status and headers, or a
         ``RelayStream``: SSE or any bytes)
      -> usage read from the answer (the provider's own usage mapping; SSE events through the
         provider's stream accumulator) -> cost -> one spend row, call type ``pass_through_endpoint``

Budgets are settled with the cost like any call. A streamed answer without usage (an OpenAI stream not
asking ``stream_options.include_usage``, a Bedrock event stream) is logged "unpriced" with the reason.
A provider error is relayed as the provider sent it (status and body) and logged as a failure.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm.engine.call import CallOptions
from ledgerlm.engine.cost import call_cost
from ledgerlm.errors import APIError, PermissionDeniedError
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment, HTTPRequest
from ledgerlm.proxy.body_readers import read_raw
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints.logged import Outcome, RawResult, log_call
from ledgerlm.proxy.endpoints.passthrough_stream import RawEncoder, RelayStream, priced
from ledgerlm.proxy.endpoints.passthrough_targets import (
    PREFIXES,
    model_of,
    target_headers,
    target_url,
    upstream_deployment,
)
from ledgerlm.proxy.http import error_response
from ledgerlm.proxy.lifecycle import Endpoint, Reply, Upstream, inference_route
from ledgerlm.proxy.sse_response import SSEResponse
from ledgerlm.transport import SendOptions, send_with
from ledgerlm.types import Usage

__all__ = ["PASS_THROUGH", "pass_through", "routes"]

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_HOP = {
    "content-length",
    "transfer-encoding",
    "connection",
    "content-encoding",
    "keep-alive",
    "date",
    "server",
}


def _caller_headers(request: Request) -> Mapping[str, str]:
    """The caller's proxy key, wherever its SDK put it, as an ``Authorization`` header."""
    h = request.headers
    key = h.get("x-litellm-api-key") or h.get("x-goog-api-key") or request.query_params.get("key")
    if key:
        return {"authorization": f"Bearer {key}"}
    return {k: v for k, v in h.items() if k in ("authorization", "x-api-key", "api-key")}


def _provider(request: Request) -> str:
    return PREFIXES[request.url.path.strip("/").split("/", 1)[0]]


def _streams(call: ProxyCall, body: dict[str, Any]) -> bool:
    """Whether the provider answers with a stream (asked in the body, the accept header or the path)."""
    path = call.request.path_params["path"]
    accept = call.request.headers.get("accept", "")
    return (
        "text/event-stream" in accept
        or bool(body.get("stream"))
        or ":streamGenerateContent" in path
        or ("-stream" in path.rsplit("/", 1)[-1])
    )


async def _resolve(call: ProxyCall, body: dict[str, Any]) -> None:
    """The provider (URL prefix), the model priced, the deployment whose credentials are used, tags."""
    state, request = call.state, call.request
    provider = _provider(request)
    model = model_of(provider, request.path_params["path"], body or None)
    groups = state.registry.groups.values()
    deployment = upstream_deployment(provider, model, (d for g in groups for d in g.deployments))
    _check_access(call, model, deployment)
    call.deployment, call.model = deployment, model or provider
    call.ctx.model_group = deployment.model_group
    request_tags = state.tags.from_request(body, request.headers)
    key = call.key
    call.ctx.request_tags = state.tags.resolve(
        request_tags, key.tags, key.team_tags, deployment.tags, request.headers
    )
    call.attachments["parsed"] = body


def _check_access(call: ProxyCall, model: str | None, deployment: Deployment) -> None:
    """A key (or team) limited to some models passes through only calls to those models: the model the
    call names, or a configured model group serving it, must be on the list; a call that names no
    model (a file upload, a listing) is refused to a limited key. 403 ``model_not_allowed``."""
    key = call.key
    if key.is_admin:
        return
    groups = call.state.router.groups
    served = (  # every configured group with a deployment of this provider serving the model
        d.model_group
        for g in call.state.registry.groups.values()
        for d in g.deployments
        if model and d.provider == deployment.provider and d.model.split("/")[-1] == model
    )
    names = [n for n in (model, deployment.model_group, *served) if n]
    for models in (key.models, key.team_models):
        if models and not any(groups.allowed(models, name) for name in names):
            shown = model or "(no model named)"
            raise PermissionDeniedError(
                f"this key may not use model {shown!r} through a pass-through route",
                code="model_not_allowed",
                param="model",
            )


def _prepare(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
    """The outgoing request: the bytes as sent (re-encoded only when a pre-call hook changed the body)."""
    deployment, request = call.deployment, call.request
    assert deployment is not None
    raw: bytes = call.attachments["raw"]
    if call.body is not call.attachments["parsed"]:
        raw = orjson.dumps(call.body)
    provider = _provider(request)
    url = target_url(provider, deployment, request.path_params["path"], request.url.query)
    headers = target_headers(provider, deployment, request.headers, url, raw, request.method)
    http = HTTPRequest(request.method, url, headers, raw)
    return Upstream(deployment, admitted, native=True, kwargs={"http": http})


async def _send(
    deployment: Deployment, body: dict[str, Any], http: HTTPRequest, options: CallOptions, stream: bool
) -> Any:
    """Send once; an error answer is logged as the call's failure and raised (relayed by
    ``relayed_error``)."""
    impl, start = get_provider(deployment.provider), time.time()
    try:
        mapper = partial(impl.error_from_response, deployment)
        timeout = deployment.timeout or options.timeout
        sending = SendOptions(mapper, deployment.provider, deployment.model, timeout, 0, stream)
        return await send_with(options.in_runtime().transport, http, sending)
    except APIError as exc:
        cost = call_cost(deployment, Usage(), start)
        log_call(deployment, body, options, Outcome(Usage(), cost, error=exc), stream=stream, start=start)
        raise


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in _HOP}


async def _plain(
    deployment: Deployment, body: dict[str, Any], options: CallOptions, *, http: HTTPRequest
) -> RawResult:
    """A non-streamed call: the answer's bytes, usage read from its JSON, one row."""
    start = time.time()
    sent = await _send(deployment, body, http, options, False)
    raw = sent.body or b""
    try:
        answer: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        answer = None
    usage = None
    if isinstance(answer, dict):
        try:
            usage = get_provider(deployment.provider).usage_from_body(answer)
        except Exception:  # an answer that is not an inference answer: no usage, never a lost row
            usage = None
    found, cost = priced(deployment, usage, start)
    record = log_call(deployment, body, options, Outcome(found, cost, response=answer), start=start)
    return RawResult(raw, sent.status, _kept(sent.headers), answer, record, cost)


async def _open(
    deployment: Deployment, body: dict[str, Any], options: CallOptions, *, http: HTTPRequest
) -> RelayStream:
    """A streamed call: the open answer, relayed by the lifecycle (``RelayStream`` writes the row)."""
    sent = await _send(deployment, body, http, options, True)
    return RelayStream(sent.response, _kept(sent.headers), deployment, body, options)


def relay_encode(call: ProxyCall, upstream: Upstream, result: Any) -> Reply:
    """A relayed answer as it came: its bytes, status and headers (no media type of ours)."""
    return Reply(result.raw, media_type=None, status=result.status, headers=result.headers)


def relayed_stream(call: ProxyCall, opened: Any, frames: AsyncGenerator[bytes, None]) -> Response:
    """A relayed stream: the upstream's status and headers (ours over them), its content type."""
    headers = {k: v for k, v in opened.headers.items() if k not in ("content-type", "cache-control")}
    media = opened.headers.get("content-type", "text/event-stream")
    return SSEResponse(frames, {**headers, **call.headers()}, status=opened.status, media_type=media)


def relayed_error(exc: BaseException, headers: dict[str, str]) -> Response:
    """The provider's (or target's) own error as it came (status and body); the proxy's errors (an
    unreachable target: 502/504) in OpenAI's format."""
    if isinstance(exc, APIError) and exc.status_code and exc.body is not None:
        body = exc.body if isinstance(exc.body, (bytes, str)) else orjson.dumps(exc.body)
        return Response(body, status_code=exc.status_code, media_type="application/json", headers=headers)
    return error_response(exc, headers)


PASS_THROUGH = Endpoint(
    call_type="pass_through_endpoint",
    need="",
    call=_plain,
    encode=relay_encode,
    error=relayed_error,
    open_stream=_open,
    stream_encoder=lambda call, upstream: RawEncoder(),
    prepare=_prepare,
    chunk_hooks=False,
    name="pass_through",
    read=read_raw,
    credentials=_caller_headers,
    stream_of=_streams,
    resolve=_resolve,
    stream_response=relayed_stream,
)

pass_through = inference_route(PASS_THROUGH)


def routes() -> list[Route]:
    """``/{prefix}/{path}`` for every prefix, every method."""
    return [Route(f"/{prefix}/{{path:path}}", pass_through, methods=_METHODS) for prefix in PREFIXES]
