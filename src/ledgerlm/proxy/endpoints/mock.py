"""LiteLLM's testing conventions on ``/v1/chat/completions``: the request field ``mock_response`` and the
deployment params ``mock_response`` / ``mock_timeout`` (LiteLLM docs "Mock Completion() Responses").

* ``mock_response: "<text>"``: the answer is a ``chat.completion`` (or its stream) with that text, made
  without any provider call; the spend row says so (``request_metadata.mock_response: true``), with
  zero usage and a cost of exactly $0 (nothing was billed);
* ``mock_response: "litellm.RateLimitError"`` (or ``InternalServerError``, ``BadRequestError``,
  ``Timeout``, ``AuthenticationError``, ``ContextWindowExceededError``, ``ServiceUnavailableError``):
  that error is answered and logged as the call's failure;
* deployment ``mock_timeout: true``: the call fails with the proxy's timeout error, no provider call.

``prepare`` marks the per-call deployment copy (``MOCK_KEY``); ``chat`` / ``chat_stream`` stand in for
``engine.chat`` / ``engine.chat_stream`` in the chat ``Endpoint`` and run the engine when not mocked.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from ledgerlm import engine, errors
from ledgerlm.engine.call import Call, CallOptions, CallResult
from ledgerlm.engine.record import build_record
from ledgerlm.errors import APIError
from ledgerlm.providers.base import Deployment
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.lifecycle import Upstream
from ledgerlm.types import Cost, Usage

__all__ = ["MOCK_ERRORS", "MOCK_KEY", "chat", "chat_stream", "prepare"]

MOCK_KEY = "ledgerlm_mock_response"
MOCK_ERRORS: dict[str, type[APIError]] = {
    "RateLimitError": errors.RateLimitError,
    "InternalServerError": errors.InternalServerError,
    "BadRequestError": errors.BadRequestError,
    "ContextWindowExceededError": errors.BadRequestError,
    "AuthenticationError": errors.AuthenticationError,
    "Timeout": errors.APITimeoutError,
    "ServiceUnavailableError": errors.ServiceUnavailableError,
}


def prepare(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
    """The chat ``Upstream``; a mocked call gets a deployment copy carrying the mock."""
    deployment = call.deployment
    assert deployment is not None
    given = call.body.get("mock_response", deployment.extra.get("mock_response"))
    if deployment.extra.get("mock_timeout") is True:
        given = "litellm.Timeout"
    if given is None:
        return Upstream(deployment, admitted)
    call.ctx.metadata["mock_response"] = True
    mocked = dataclasses.replace(deployment, extra={**deployment.extra, MOCK_KEY: str(given)})
    return Upstream(mocked, admitted)


def _completion(deployment: Deployment, text: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-mock-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": deployment.model_group or deployment.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": Usage().to_openai(),
    }


def _finish(deployment: Deployment, body: dict[str, Any], options: CallOptions, stream: bool) -> CallResult:
    """The mocked call's single terminal event; raises the mocked error after logging it."""
    options = dataclasses.replace(options, num_retries=0, timeout=None)
    one = Call(options, deployment, body, stream=stream)
    one.cost = Cost(total=Decimal(0), model_ref="mock_response")
    log = engine._open_log(one)
    text = str(deployment.extra[MOCK_KEY])
    error_cls = MOCK_ERRORS.get(text.removeprefix("litellm.")) if text.startswith("litellm.") else None
    if error_cls is not None:
        error = error_cls(f"mock_response: {text}", code="mock_response")
        log.failure(build_record(one, error=error), error)
        raise error
    completion = _completion(deployment, text)
    record = build_record(one, response=completion)
    log.success(record, completion)
    return CallResult(completion, one.usage, one.cost, record)


async def chat(deployment: Deployment, body: dict[str, Any], options: CallOptions) -> CallResult:
    """``engine.chat``, or the mock when the deployment copy carries one."""
    if MOCK_KEY not in deployment.extra:
        return await engine.chat(deployment, body, options)
    return _finish(deployment, body, options, stream=False)


class _MockStream:
    """The mocked answer as a chat stream (two chunks); its row is already written."""

    def __init__(self, result: CallResult) -> None:
        self.usage, self.cost, self.record = result.usage, result.cost, result.record
        base = {k: result.body[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
        text = result.body["choices"][0]["message"]["content"]
        self._chunks = [
            {
                **base,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}
                ],
            },
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        ]

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        for chunk in self._chunks:
            yield chunk

    async def aclose(self) -> None:
        return None


async def chat_stream(deployment: Deployment, body: dict[str, Any], options: CallOptions) -> Any:
    """``engine.chat_stream``, or the mock's stream when the deployment copy carries one."""
    if MOCK_KEY not in deployment.extra:
        return await engine.chat_stream(deployment, body, options)
    return _MockStream(_finish(deployment, body, options, stream=True))
