"""The routes of ``general_settings.pass_through_endpoints`` (``ledgerlm.proxy.passthrough_config``):
the request goes to the entry's ``target`` as it is (method, body bytes, query), the answer comes back
unchanged (JSON, SSE or any bytes), and one spend row is logged, call type ``pass_through_endpoint``,
model group = the route's path, ``api_base`` = the target:

* cost: ``cost_per_request`` when the entry sets it (``request`` in the breakdown); else from the
  answer's usage when it is in a known format (OpenAI chat/completions/embeddings/responses,
  Anthropic Messages, Gemini ``usageMetadata``; SSE streams of those too) priced from the catalog by
  the body's ``model``; else unpriced with the reason, never ``$0``;
* ``auth: true``: a proxy key is required (401 in OpenAI's format, no row); the key's tags, budgets
  and limits apply (admission reserves on the body, settles on the cost). Open routes log rows with
  no key;
* an error answer of the target is relayed as it came (status, body) with a failure row; an
  unreachable target is a 502/504 in OpenAI's error format, with a failure row.

A path that one of ledgerlm's own routes serves is not mounted (a warning at start), as in LiteLLM,
whose built-in routes come first.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Iterable
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ledgerlm.engine.cost import call_cost
from ledgerlm.errors import APIError, LedgerLMError, RequestTooLargeError
from ledgerlm.pricing.unit_worst import UnitWorstCase
from ledgerlm.providers.base import Deployment, HTTPRequest
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.call import ProxyCall, request_id_of
from ledgerlm.proxy.endpoints.passthrough_usage import answer_usage, log_passthrough, stream_usage
from ledgerlm.proxy.http import error_response
from ledgerlm.proxy.lifecycle import fail_call
from ledgerlm.proxy.passthrough_config import PassThroughEndpoint, parse_pass_through_endpoints, target_url
from ledgerlm.proxy.state import ProxyState
from ledgerlm.sse import SSEDecoder
from ledgerlm.transport import TransportResponse, send
from ledgerlm.types import Cost, Usage

__all__ = ["routes"]

log = logging.getLogger("ledgerlm.proxy")

_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}
_PROXY_KEYS = {"authorization", "x-api-key", "api-key", "x-litellm-api-key"}
_RELAY_DROP = _HOP | {"date", "server"}


def _upstream_headers(endpoint: PassThroughEndpoint, request: Request) -> dict[str, str]:
    """The caller's headers when ``forward_headers`` (never hop-by-hop ones, never the proxy key of an
    ``auth`` route), then the entry's ``headers`` over them."""
    out: dict[str, str] = {}
    if endpoint.forward_headers:
        dropped = _HOP | (_PROXY_KEYS if endpoint.auth else set())
        out = {k: v for k, v in request.headers.items() if k.lower() not in dropped}
    elif "content-type" in request.headers:
        out["content-type"] = request.headers["content-type"]
    out.update(endpoint.headers)
    return out


async def _key(request: Request, endpoint: PassThroughEndpoint, state: ProxyState) -> KeyContext:
    if not endpoint.auth:
        return KeyContext(token=None)
    h = request.headers
    given = h.get("x-litellm-api-key")
    headers = {"authorization": f"Bearer {given}"} if given else dict(h)
    return await state.auth.authenticate(headers)


class _Call:
    """One call on a custom route: the ``ProxyCall``, the record's deployment, the pricing."""

    def __init__(self, call: ProxyCall, endpoint: PassThroughEndpoint, deployment: Deployment) -> None:
        self.call, self.endpoint, self.deployment = call, endpoint, deployment

    def finish(
        self, usage: Usage | None, family: str | None, error: APIError | None, answer: Any = None
    ) -> None:
        rate = self.endpoint.cost_per_request
        if rate is not None:
            cost = Cost(
                total=rate, breakdown={"request": rate}, source="custom", model_ref=self.endpoint.path
            )
        elif usage is None or family is None:
            reason = "the answer carries no usage in a known format (OpenAI, Anthropic, Gemini); "
            cost = Cost.unpriced(reason + "set cost_per_request on the pass-through endpoint to price it")
        else:
            priced = Deployment(provider=family, model=self.deployment.model)
            cost = call_cost(priced, usage, self.call.start_time)
        log_passthrough(self.call, self.deployment, usage or Usage(), cost, error=error, response=answer)


async def _relay(c: _Call, response: TransportResponse) -> AsyncGenerator[bytes, None]:
    decoder, usage = SSEDecoder(), stream_usage()
    error: APIError | None = None
    try:
        async for data in response.content.iter_any():
            for event in decoder.feed(data):
                usage.feed(event.data)
            yield data
    except BaseException as exc:
        error = APIError(f"the pass-through stream broke: {exc!r}")
        raise
    finally:
        response.release()
        c.finish(usage.usage(), usage.family, error)
        await c.call.settle(c.call.sink.record)


async def _open(request: Request, endpoint: PassThroughEndpoint) -> tuple[_Call, bytes]:
    """The call, routed to the target, admitted (``auth`` routes), with the request body."""
    state: ProxyState = request.app.state.proxy
    raw = await request.body()
    if len(raw) > state.max_body_bytes:
        raise RequestTooLargeError(
            f"request body over {state.max_body_bytes} bytes", code="request_too_large"
        )
    try:
        parsed: Any = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        parsed = None
    body = parsed if isinstance(parsed, dict) else {}
    model = body.get("model") if isinstance(body.get("model"), str) else None
    rate = endpoint.cost_per_request  # known up front: admission reserves it under hard budgets
    deployment = Deployment(
        price=None if rate is None else UnitWorstCase(rate),
        provider="pass_through",
        model=model or endpoint.path,
        api_base=endpoint.target,
        model_group=endpoint.path,
    )
    call: ProxyCall = request.state.ledgerlm_call
    call.body, call.stream = body, bool(body.get("stream"))
    call.deployment, call.model = deployment, model or endpoint.path
    call.ctx.model_group = endpoint.path
    tags = state.tags.from_request(body, request.headers)
    call.ctx.request_tags = state.tags.resolve(tags, call.key.tags, call.key.team_tags, [], request.headers)
    if endpoint.auth:
        call.reservation = await state.admission.reserve(call.ctx, deployment, body)
    return _Call(call, endpoint, deployment), raw


def _target_error(status: int, body: bytes, headers: Any) -> APIError:
    return APIError(
        f"the pass-through target answered HTTP {status}",
        status_code=status,
        body=body,
        headers=dict(headers),
    )


async def _handle(endpoint: PassThroughEndpoint, request: Request) -> Response:
    state: ProxyState = request.app.state.proxy
    request_id = request_id_of(request)
    try:
        key = await _key(request, endpoint, state)
    except LedgerLMError as exc:
        return error_response(exc, {"x-request-id": request_id})
    call = ProxyCall(state, request, key, request_id, "pass_through_endpoint")
    request.state.ledgerlm_call = call
    try:
        c, raw = await _open(request, endpoint)
        subpath = request.path_params.get("subpath", "")
        url = target_url(endpoint, subpath, request.url.query)
        http = HTTPRequest(request.method, url, _upstream_headers(endpoint, request), raw)
        stream = call.stream or "text/event-stream" in request.headers.get("accept", "")
        sent = await send(
            http,
            map_error=_target_error,
            provider="pass_through",
            model=call.model,
            timeout=endpoint.timeout,
            num_retries=0,
            stream=stream,
        )
    except APIError as exc:
        if exc.status_code and isinstance(exc.body, bytes) and call.deployment is not None:
            c = _Call(call, endpoint, call.deployment)
            c.finish(None, None, exc)
            await call.settle(call.sink.record)
            return Response(
                exc.body, status_code=exc.status_code, media_type="application/json", headers=call.headers()
            )
        return await fail_call(call, exc, error_response)
    except Exception as exc:
        return await fail_call(call, exc, error_response)
    out = {k.lower(): v for k, v in sent.headers.items() if k.lower() not in _RELAY_DROP}
    out.update(call.headers())
    if sent.response is not None:
        return StreamingResponse(_relay(c, sent.response), status_code=sent.status, headers=out)
    body = sent.body or b""
    family, usage, answer = answer_usage(body)
    c.finish(usage, family, None, answer)
    record = call.sink.record
    out.update(call.headers(record, record.response_cost if record else None))
    await call.settle(record)
    return Response(body, status_code=sent.status, headers=out)


def _served(path: str, builtin: Iterable[BaseRoute]) -> bool:
    for route in builtin:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            return True
    return False


def routes(general_settings: dict[str, Any], builtin: list[BaseRoute]) -> list[Route]:
    """The custom routes of ``general_settings`` (see the module docstring); ``ConfigError`` on a bad
    entry."""
    out: list[Route] = []
    for endpoint in parse_pass_through_endpoints(general_settings):
        if _served(endpoint.path, builtin):
            log.warning(
                "config: general_settings.pass_through_endpoints path %s is served by ledgerlm itself; "
                "the pass-through to %s is not mounted",
                endpoint.path,
                endpoint.target,
            )
            continue
        handler: Callable[[Request], Any] = partial(_handle, endpoint)
        methods = list(endpoint.methods)
        out.append(Route(endpoint.path, handler, methods=methods))
        if endpoint.include_subpath:
            out.append(Route(endpoint.path + "/{subpath:path}", handler, methods=methods))
    return out
