"""``POST /v1/messages/count_tokens`` (and ``/messages/count_tokens``): Anthropic's "Count message
tokens", which Claude Code calls before every turn.

* Anthropic deployments: forwarded to ``{base}/v1/messages/count_tokens`` (the fields that endpoint
  takes), the answer ``{"input_tokens": n}`` returned unchanged; Bedrock (CountTokens), Gemini and
  Vertex AI (``countTokens``; Claude on Vertex: ``count-tokens:rawPredict``) through
  ``ledgerlm.providers.count_tokens``, answered as ``{"input_tokens": n}``; all logged as call type
  ``acount_tokens`` at exactly $0 (one free ``request`` in the breakdown); never admitted against a
  budget or a rate limit (it bills nothing);
* any other deployment: answered locally with an estimate (~4 characters per token + 3 per message,
  the proxy's documented estimate), no provider call and no spend row.

Errors use Anthropic's shape, as on ``/v1/messages``.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.engine.record import estimate_prompt_tokens
from ledgerlm.errors import BadRequestError, LedgerLMError
from ledgerlm.pricing.unit_prices import UnitPrice
from ledgerlm.providers.anthropic import COUNT_TOKENS_FLAG, NATIVE_FLAG
from ledgerlm.proxy.call import ProxyCall, request_id_of, upstream_body
from ledgerlm.proxy.endpoints._glue import fail
from ledgerlm.proxy.endpoints.messages import _error_response
from ledgerlm.proxy.http import json_response, read_json_body
from ledgerlm.proxy.state import ProxyState

__all__ = ["count_tokens", "routes"]

_FREE = {"request": Decimal(0)}
COUNTING_PROVIDERS = frozenset({"anthropic", "bedrock", "gemini", "vertex_ai"})
"""Providers with a token-count API (``ledgerlm.providers.count_tokens`` for the non-Anthropic ones)."""


def _estimate(body: dict[str, Any]) -> int:
    messages = list(body.get("messages") or [])
    system = body.get("system")
    if system:
        messages.insert(0, {"role": "system", "content": system if isinstance(system, str) else str(system)})
    return estimate_prompt_tokens({"messages": messages})


async def count_tokens(request: Request) -> Response:
    """``POST /v1/messages/count_tokens``."""
    state: ProxyState = request.app.state.proxy
    request_id = request_id_of(request)
    try:
        key = await state.auth.authenticate(request.headers)
    except LedgerLMError as exc:
        return _error_response(exc, {"x-request-id": request_id})
    call = ProxyCall(state, request, key, request_id, "acount_tokens")
    try:
        body = await read_json_body(request, state.max_body_bytes)
        await call.route(body, need="messages")
        if not isinstance(body["messages"], list) or not body["messages"]:
            raise BadRequestError("'messages' must be a non-empty list", param="messages")
        deployment = call.deployment
        assert deployment is not None
        if deployment.provider not in COUNTING_PROVIDERS:
            return json_response({"input_tokens": _estimate(body)}, headers=call.headers())
        upstream = upstream_body(body)
        price = UnitPrice(None, _FREE, model=f"{deployment.model} (count_tokens, free)")
        flags = {NATIVE_FLAG: True, COUNT_TOKENS_FLAG: True}
        native = dataclasses.replace(deployment, extra={**deployment.extra, **flags}, price=price)
        result = await engine.chat(native, upstream, **call.engine_kwargs())
    except Exception as exc:
        return await fail(call, exc, _error_response)
    await call.settle(result.record)
    return json_response(result.body, headers=call.headers(result.record, result.cost.total))


def routes() -> list[Route]:
    """The count-tokens routes, with and without ``/v1``."""
    return [
        Route(p, count_tokens, methods=["POST"])
        for p in ("/v1/messages/count_tokens", "/messages/count_tokens")
    ]
