"""LiteLLM's testing conventions on the proxy: ``mock_response`` in a chat request, and the deployment
params ``mock_response`` / ``mock_timeout`` (LiteLLM docs "Mock Completion() Responses").

* ``mock_response: "<text>"``: the answer is a ``chat.completion`` (or its stream) with that text, made
  without any provider call; the spend row says so (``request_metadata.mock_response: true``), with
  zero usage and a cost of exactly $0 (nothing was billed);
* ``mock_response: "litellm.RateLimitError"`` (or ``InternalServerError``, ``BadRequestError``,
  ``Timeout``, ``AuthenticationError``, ``ContextWindowExceededError``, ``ServiceUnavailableError``):
  that error is answered and logged as the call's failure;
* deployment ``mock_timeout: true``: the call fails with a timeout (408) without a provider call.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from ledgerlm import engine, errors
from ledgerlm.engine_record import build_record
from ledgerlm.errors import APIError
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.http import dumps, json_response
from ledgerlm.proxy.sse_response import SSEResponse
from ledgerlm.types import Cost, Usage

__all__ = ["MOCK_ERRORS", "mock_answer"]

MOCK_ERRORS: dict[str, type[APIError]] = {
    "RateLimitError": errors.RateLimitError,
    "InternalServerError": errors.InternalServerError,
    "BadRequestError": errors.BadRequestError,
    "ContextWindowExceededError": errors.BadRequestError,
    "AuthenticationError": errors.AuthenticationError,
    "Timeout": errors.APITimeoutError,
    "ServiceUnavailableError": errors.ServiceUnavailableError,
}


def _mock_error(text: str) -> APIError | None:
    if not text.startswith("litellm."):
        return None
    cls = MOCK_ERRORS.get(text.removeprefix("litellm."))
    return None if cls is None else cls(f"mock_response: {text}", code="mock_response")


def _completion(call: ProxyCall, text: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-mock-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": Usage().to_openai(),
    }


def _log(call: ProxyCall, response: dict[str, Any] | None, error: APIError | None) -> None:
    """The call's single terminal event: zero usage, $0, flagged as a mock."""
    deployment = call.deployment
    assert deployment is not None
    call.ctx.metadata["mock_response"] = True
    start = call.start_time
    log = engine._open_log(deployment, call.body, call.ctx, call.call_type, call.stream, None, [call.sink])
    record = build_record(
        deployment=deployment,
        body=call.body,
        context=call.ctx,
        call_type=call.call_type,
        start=start,
        usage=Usage(),
        cost=Cost(total=Decimal(0), model_ref="mock_response"),
        error=error,
        response=response,
        stream=call.stream,
    )
    if error is None:
        log.success(record, response)
    else:
        log.failure(record, error)


async def mock_answer(call: ProxyCall) -> Response | None:
    """The mocked answer of a routed chat call, or ``None`` when the call is not mocked."""
    deployment = call.deployment
    assert deployment is not None
    given = call.body.get("mock_response", deployment.extra.get("mock_response"))
    if deployment.extra.get("mock_timeout") is True:
        given = "litellm.Timeout"
    if given is None:
        return None
    text = given if isinstance(given, str) else str(given)
    error = _mock_error(text)
    if error is not None:
        _log(call, None, error)
        return await call.fail(error)
    completion = _completion(call, text)
    _log(call, completion, None)
    headers = call.headers(call.sink.record, Decimal(0))
    await call.settle(call.sink.record)
    if call.stream:
        return SSEResponse(_chunks(completion), headers)
    return json_response(completion, headers=headers)


async def _chunks(completion: dict[str, Any]) -> AsyncGenerator[bytes, None]:
    base = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    text = completion["choices"][0]["message"]["content"]
    for delta, finish in (({"role": "assistant", "content": text}, None), ({}, "stop")):
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        yield b"data: " + dumps(chunk) + b"\n\n"
    yield b"data: [DONE]\n\n"
