"""``POST /v1/messages/count_tokens`` (and ``/messages/count_tokens``): Anthropic's "Count message
tokens", which Claude Code calls before every turn. A lifecycle ``Endpoint`` (routing with retries,
fallbacks and cooldowns, hooks, one spend row), never admitted: ``admit=False``.

* Anthropic deployments: forwarded to ``{base}/v1/messages/count_tokens`` (the fields that endpoint
  takes), the answer ``{"input_tokens": n}`` returned unchanged; Bedrock (CountTokens), Gemini and
  Vertex AI (``countTokens``; Claude on Vertex: ``count-tokens:rawPredict``) through
  ``ledgerlm.providers.count_tokens``, answered as ``{"input_tokens": n}``;
* any other deployment: answered locally with an estimate (~4 characters per token + 3 per message,
  the proxy's documented estimate), no provider call.

Both are logged as call type ``acount_tokens`` at exactly $0 (one free ``request`` in the breakdown,
no billed tokens) and never reserved against a budget or a rate limit (a count bills nothing).
Errors use Anthropic's shape, as on ``/v1/messages``.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.engine.call import CallOptions, CallResult
from ledgerlm.engine.record import estimate_prompt_tokens
from ledgerlm.errors import BadRequestError
from ledgerlm.pricing.unit_prices import UnitPrice
from ledgerlm.providers.anthropic import COUNT_TOKENS_FLAG, NATIVE_FLAG
from ledgerlm.providers.base import Deployment
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints.logged import Outcome, log_call
from ledgerlm.proxy.endpoints.messages import _error_response
from ledgerlm.proxy.lifecycle import Endpoint, Upstream, inference_route
from ledgerlm.types import Cost, Usage

__all__ = ["COUNT_TOKENS", "count_tokens", "routes"]

_FREE = {"request": Decimal(0)}
COUNTING_PROVIDERS = frozenset({"anthropic", "bedrock", "gemini", "vertex_ai"})
"""Providers with a token-count API (``ledgerlm.providers.count_tokens`` for the non-Anthropic ones)."""


def _estimate(body: dict[str, Any]) -> int:
    messages = list(body.get("messages") or [])
    system = body.get("system")
    if system:
        messages.insert(0, {"role": "system", "content": system if isinstance(system, str) else str(system)})
    return estimate_prompt_tokens({"messages": messages})


def _checks(call: ProxyCall, body: dict[str, Any]) -> None:
    if not isinstance(body["messages"], list) or not body["messages"]:
        raise BadRequestError("'messages' must be a non-empty list", param="messages")


def _prepare(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
    """A provider with a count API: a native copy flagged for it, priced free; else the deployment."""
    deployment = call.deployment
    assert deployment is not None
    if deployment.provider not in COUNTING_PROVIDERS:  # answered by the local estimate
        return Upstream(deployment, admitted)
    price = UnitPrice(None, _FREE, model=f"{deployment.model} (count_tokens, free)")
    flags = {NATIVE_FLAG: True, COUNT_TOKENS_FLAG: True}
    native = dataclasses.replace(deployment, extra={**deployment.extra, **flags}, price=price)
    return Upstream(native, admitted, native=True)


async def _count(deployment: Deployment, body: dict[str, Any], options: CallOptions) -> CallResult:
    """The provider's count (``engine.chat`` on the flagged copy), or the local estimate, logged free."""
    if deployment.extra.get(COUNT_TOKENS_FLAG):
        return await engine.chat(deployment, body, options)
    usage, cost = Usage(), Cost(total=Decimal(0), breakdown=_FREE, model_ref=f"{deployment.model} (estimate)")
    answer = {"input_tokens": _estimate(body)}
    record = log_call(deployment, body, options, Outcome(usage, cost, response=answer))
    return CallResult(answer, usage, cost, record)


def _encode(call: ProxyCall, upstream: Upstream, result: Any) -> dict[str, Any]:
    body: dict[str, Any] = result.body
    return body


COUNT_TOKENS = Endpoint(
    call_type="acount_tokens",
    need="messages",
    call=_count,
    encode=_encode,
    error=_error_response,
    parse=_checks,
    prepare=_prepare,
    admit=False,
    name="count_tokens",
)

count_tokens = inference_route(COUNT_TOKENS)


def routes() -> list[Route]:
    """The count-tokens routes, with and without ``/v1``."""
    return [
        Route(p, count_tokens, methods=["POST"])
        for p in ("/v1/messages/count_tokens", "/messages/count_tokens")
    ]
