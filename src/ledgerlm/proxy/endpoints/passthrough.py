"""Pass-through routes ``/openai/*``, ``/anthropic/*``, ``/gemini/*``, ``/vertex_ai/*``, ``/bedrock/*``
(LiteLLM's names): a provider SDK pointed at ``{proxy}/anthropic`` (etc.) with a proxy key gets spend
tracking without changing formats.

::

    auth (Authorization / x-api-key / api-key / x-goog-api-key / ?key= / x-litellm-api-key)
      -> target (passthrough_targets: URL, credentials, model) -> send the body AS IS
      -> answer relayed unchanged (JSON, SSE, or any bytes)
      -> usage read from the answer (the provider's own usage mapping; SSE events through the
         provider's stream accumulator) -> cost -> one spend row, call type ``pass_through_endpoint``

Budgets are settled with the cost like any call (admission reserves on the body as sent). A
streamed answer without usage (an OpenAI stream not asking ``stream_options.include_usage``, a Bedrock
event stream) is logged "unpriced" with the reason.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ledgerlm.engine.cost import call_cost
from ledgerlm.errors import APIError, LedgerLMError
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment, HTTPRequest
from ledgerlm.proxy.call import ProxyCall, request_id_of
from ledgerlm.proxy.endpoints._glue import fail, log_call
from ledgerlm.proxy.endpoints.passthrough_targets import (
    PREFIXES,
    model_of,
    target_headers,
    target_url,
    upstream_deployment,
)
from ledgerlm.proxy.http import error_response
from ledgerlm.proxy.state import ProxyState
from ledgerlm.sse import SSEDecoder
from ledgerlm.transport import send
from ledgerlm.types import Cost, Usage
from ledgerlm.usage import stream_accumulator

__all__ = ["pass_through", "routes"]

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


def _caller_headers(request: Request) -> dict[str, str]:
    """The caller's proxy key, wherever its SDK put it, as an ``Authorization`` header."""
    h = request.headers
    key = h.get("x-litellm-api-key") or h.get("x-goog-api-key") or request.query_params.get("key")
    if key:
        return {"authorization": f"Bearer {key}"}
    return {k: v for k, v in h.items() if k in ("authorization", "x-api-key", "api-key")}


async def _body(request: Request, limit: int) -> tuple[bytes, Any]:
    raw = await request.body()
    if len(raw) > limit:
        from ledgerlm.errors import RequestTooLargeError

        raise RequestTooLargeError(f"request body over {limit} bytes", code="request_too_large")
    try:
        return raw, orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return raw, None


class _Passthrough:
    """One pass-through call: its ``ProxyCall``, provider and upstream deployment."""

    def __init__(self, call: ProxyCall, provider: str, deployment: Deployment, body: Any) -> None:
        self.call = call
        self.provider = provider
        self.deployment = deployment
        self.start = time.time()
        self.body = body if isinstance(body, dict) else {}
        call.stream = bool(self.body.get("stream"))

    def finish(self, usage: Usage | None, error: APIError | None, response: Any = None) -> None:
        """The single terminal event (success or failure) with usage and cost."""
        if usage is None:
            usage, cost = Usage(), Cost.unpriced("the pass-through answer carried no usage")
        else:
            cost = call_cost(self.deployment, usage, self.start)
        log_call(self.call, self.deployment, usage, cost, error=error, response=response, start=self.start)


def _usage_of(provider: str, parsed: Any) -> Usage | None:
    if not isinstance(parsed, dict):
        return None
    try:
        return get_provider(provider).usage_from_body(parsed)
    except Exception:  # an answer that is not an inference answer: no usage, never a lost row
        return None


async def _relay(p: _Passthrough, response: aiohttp.ClientResponse) -> AsyncGenerator[bytes, None]:
    """Relay the bytes unchanged while reading SSE events for their usage."""
    decoder, usage_of = SSEDecoder(), stream_accumulator(p.provider)
    error: APIError | None = None
    try:
        async for data in response.content.iter_any():
            for event in decoder.feed(data):
                try:
                    obj = orjson.loads(event.data)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(obj, dict):
                    usage_of.feed(obj)
            yield data
    except BaseException as exc:
        error = APIError(f"the pass-through stream broke: {exc!r}")
        raise
    finally:
        response.release()
        p.finish(usage_of.usage(), error)
        await p.call.settle(p.call.sink.record)


async def pass_through(request: Request) -> Response:
    """``{METHOD} /{provider}/{path}``."""
    state: ProxyState = request.app.state.proxy
    provider = PREFIXES[request.url.path.strip("/").split("/", 1)[0]]
    request_id = request_id_of(request)
    try:
        key = await state.auth.authenticate(_caller_headers(request))
    except LedgerLMError as exc:
        return error_response(exc, {"x-request-id": request_id})
    call = ProxyCall(state, request, key, request_id, "pass_through_endpoint")
    try:
        raw, parsed = await _body(request, state.max_body_bytes)
        path = request.path_params["path"]
        model = model_of(provider, path, parsed)
        groups = state.registry.groups.values()
        deployment = upstream_deployment(provider, model, (d for g in groups for d in g.deployments))
        call.deployment, call.model = deployment, model or provider
        call.ctx.model_group = deployment.model_group
        call.ctx.request_tags = state.tags.resolve(
            state.tags.from_request(parsed if isinstance(parsed, dict) else {}, request.headers),
            key.tags,
            key.team_tags,
            deployment.tags,
            request.headers,
        )
        call.body = parsed if isinstance(parsed, dict) else {}
        call.reservation = await state.admission.reserve(call.ctx, deployment, call.body)
        url = target_url(provider, deployment, path, request.url.query)
        headers = target_headers(provider, deployment, request.headers, url, raw, request.method)
        p = _Passthrough(call, provider, deployment, parsed)
        sent = await _send(p, HTTPRequest(request.method, url, headers, raw), state)
    except APIError as exc:
        if exc.status_code and exc.body is not None and call.sink.record is not None:
            await call.settle(call.sink.record)  # the provider's own error, relayed as it came
            body = exc.body if isinstance(exc.body, (bytes, str)) else orjson.dumps(exc.body)
            return Response(
                body, status_code=exc.status_code, media_type="application/json", headers=call.headers()
            )
        return await fail(call, exc)
    except Exception as exc:
        return await fail(call, exc)
    out_headers = {k.lower(): v for k, v in sent.headers.items() if k.lower() not in _HOP}
    out_headers.update(call.headers())
    if sent.response is not None:
        return StreamingResponse(_relay(p, sent.response), status_code=sent.status, headers=out_headers)
    body = sent.body or b""
    try:
        answer: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    p.finish(_usage_of(provider, answer), None, answer)
    record = call.sink.record
    out_headers.update(call.headers(record, record.response_cost if record else None))
    await call.settle(record)
    return Response(body, status_code=sent.status, headers=out_headers)


async def _send(p: _Passthrough, http: HTTPRequest, state: ProxyState) -> Any:
    """Send; an error answer is relayed as the provider's (logged as a failure, never retried)."""
    impl = get_provider(p.provider)
    stream = "text/event-stream" in http.headers.get("accept", "") or bool(p.body.get("stream"))
    stream = stream or ":streamGenerateContent" in http.url or "-stream" in http.url.rsplit("/", 1)[-1]
    try:
        return await send(
            http,
            map_error=lambda s, b, h: impl.error_from_response(p.deployment, s, b, h),
            provider=p.provider,
            model=p.deployment.model,
            timeout=p.deployment.timeout or state.timeout,
            num_retries=0,
            stream=stream,
        )
    except APIError as exc:
        p.finish(None, exc)
        raise


def routes() -> list[Route]:
    """``/{prefix}/{path}`` for every prefix, every method."""
    return [Route(f"/{prefix}/{{path:path}}", pass_through, methods=_METHODS) for prefix in PREFIXES]
