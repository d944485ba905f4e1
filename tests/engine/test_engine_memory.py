"""The engine over ``InMemoryTransport``: plain, streamed, error statuses, Retry-After, broken and
stalled streams, a runtime's own callback lists, an ASGI app as the upstream. No socket: each test
runs in milliseconds."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from ledgerlm import engine, errors, transport
from ledgerlm.callbacks import flush
from ledgerlm.callbacks.registry import CallbackLists
from ledgerlm.engine import CallOptions
from ledgerlm.providers.base import Deployment, HTTPRequest
from ledgerlm.record import CallRecord
from ledgerlm.runtime import Runtime
from ledgerlm.transport import InMemoryTransport, MemoryResponse, RetryPolicy
from ledgerlm.types import CallContext

BASE = "http://upstream.test/v1"
DEPLOYMENT = Deployment(provider="openai", model="gpt-4o-mini", api_base=BASE, api_key="sk-memory")
BODY = {"messages": [{"role": "user", "content": "hello"}]}


def _completion(prompt: int = 7, completion: int = 3) -> dict[str, Any]:
    return {
        "id": "chatcmpl-memory",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-memory",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
    }
    if usage is not None:
        chunk["usage"] = usage
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


STREAM = [
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"content": "one "}),
    _chunk({"content": "two"}),
    _chunk({}, "stop"),
    _chunk({}, usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}),
    b"data: [DONE]\n\n",
]


def _options(memory: InMemoryTransport, records: list[CallRecord], **fields: Any) -> CallOptions:
    context = CallContext(request_id=str(uuid.uuid4()))
    return CallOptions(context, sinks=(records.append,), runtime=Runtime(transport=memory), **fields)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long backoff: a test that retries fast proves the Retry-After header was used."""
    monkeypatch.setattr(
        transport, "DEFAULT_RETRY_POLICY", RetryPolicy(initial_delay_s=30.0, max_delay_s=30.0)
    )


async def test_plain_call_sends_the_provider_request_and_records_usage_and_cost() -> None:
    memory = InMemoryTransport(lambda request: MemoryResponse(200, json=_completion()))
    records: list[CallRecord] = []
    result = await engine.chat(DEPLOYMENT, dict(BODY), _options(memory, records))
    (sent,) = memory.requests
    assert (sent.method, sent.url) == ("POST", f"{BASE}/chat/completions")
    assert sent.headers["Authorization"] == "Bearer sk-memory"
    assert orjson.loads(sent.body)["messages"] == BODY["messages"]
    assert result.body["choices"][0]["message"]["content"] == "hi"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (7, 3)
    assert result.cost.total is not None and result.cost.total > 0
    assert result.raw == orjson.dumps(_completion())
    assert records == [result.record] and result.record.status == "success"


async def test_streamed_call_yields_chunks_split_anywhere_and_ends_with_one_success() -> None:
    joined = b"".join(STREAM)
    pieces = [joined[i : i + 17] for i in range(0, len(joined), 17)]  # splits inside events
    memory = InMemoryTransport(lambda request: MemoryResponse(200, chunks=pieces))
    records: list[CallRecord] = []
    stream = await engine.chat_stream(DEPLOYMENT, dict(BODY), _options(memory, records))
    chunks = [chunk async for chunk in stream]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "one two"
    assert stream.usage is not None and (stream.usage.input_tokens, stream.usage.output_tokens) == (5, 2)
    assert records == [stream.record] and records[0].status == "success" and records[0].stream


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (404, errors.NotFoundError),
        (429, errors.RateLimitError),
        (500, errors.InternalServerError),
        (503, errors.ServiceUnavailableError),
    ],
)
async def test_error_statuses_map_to_their_error_after_the_allowed_retries(
    status: int, error: type[errors.APIError]
) -> None:
    body = {"error": {"message": f"status {status}", "type": "x", "code": None}}
    memory = InMemoryTransport(lambda request: MemoryResponse(status, {"retry-after": "0"}, json=body))
    records: list[CallRecord] = []
    with pytest.raises(error) as caught:
        await engine.chat(DEPLOYMENT, dict(BODY), _options(memory, records, num_retries=1))
    retryable = status in transport.RETRY_STATUSES
    assert len(memory.requests) == (2 if retryable else 1)
    assert caught.value.status_code == status and f"status {status}" in caught.value.message
    assert len(records) == 1 and records[0].status == "failure"
    assert records[0].retries == (1 if retryable else 0)


async def test_retry_after_is_honoured_then_the_call_succeeds() -> None:
    answers = [
        MemoryResponse(429, {"retry-after": "0"}, json={"error": {"message": "slow down"}}),
        MemoryResponse(503, {"retry-after-ms": "10"}, json={"error": {"message": "busy"}}),
        MemoryResponse(200, json=_completion()),
    ]
    memory = InMemoryTransport(lambda request: answers.pop(0))
    records: list[CallRecord] = []
    started = time.monotonic()
    result = await engine.chat(DEPLOYMENT, dict(BODY), _options(memory, records, num_retries=2))
    assert time.monotonic() - started < 5.0, "the 30 s backoff was used instead of Retry-After"
    assert len(memory.requests) == 3
    assert records == [result.record] and result.record.retries == 2


async def test_a_stream_broken_midway_is_one_failure_with_the_usage_so_far() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield STREAM[0] + STREAM[1]
        raise ConnectionResetError("peer went away")

    memory = InMemoryTransport(lambda request: MemoryResponse(200, chunks=broken()))
    records: list[CallRecord] = []
    stream = await engine.chat_stream(DEPLOYMENT, dict(BODY), _options(memory, records))
    seen = []
    with pytest.raises(errors.APIConnectionError):
        async for chunk in stream:
            seen.append(chunk)
    assert len(seen) == 2
    assert len(records) == 1 and records[0].status == "failure"
    assert records[0].usage.output_tokens == 1 and records[0].usage.raw == {"ledgerlm_estimated": True}


async def test_no_answer_and_a_stalled_stream_time_out() -> None:
    async def slow(request: HTTPRequest) -> MemoryResponse:
        await asyncio.sleep(1.0)
        return MemoryResponse(200, json=_completion())

    records: list[CallRecord] = []
    with pytest.raises(errors.APITimeoutError):
        await engine.chat(
            DEPLOYMENT, dict(BODY), _options(InMemoryTransport(slow), records, num_retries=0, timeout=0.05)
        )

    async def stalls() -> AsyncIterator[bytes]:
        yield STREAM[0]
        await asyncio.sleep(1.0)
        yield STREAM[1]

    memory = InMemoryTransport(lambda request: MemoryResponse(200, chunks=stalls()))
    stream = await engine.chat_stream(DEPLOYMENT, dict(BODY), _options(memory, records, timeout=0.05))
    with pytest.raises(errors.APITimeoutError):
        _ = [chunk async for chunk in stream]
    assert [r.status for r in records] == ["failure", "failure"]


async def test_a_runtime_with_its_own_callback_lists_leaves_the_package_lists_alone() -> None:
    import ledgerlm

    mine: list[str] = []
    package: list[str] = []

    def seen_by_runtime(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        mine.append(kwargs["model"])

    def seen_by_package(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        package.append(kwargs["model"])

    memory = InMemoryTransport(lambda request: MemoryResponse(200, json=_completion()))
    runtime = Runtime(transport=memory, callbacks=CallbackLists(success_callback=[seen_by_runtime]))
    ledgerlm.success_callback.append(seen_by_package)
    try:
        options = CallOptions(CallContext(request_id="r-own"), runtime=runtime)
        await engine.chat(DEPLOYMENT, dict(BODY), options)
        assert flush(5)
    finally:
        ledgerlm.success_callback.remove(seen_by_package)
    assert mine == ["openai/gpt-4o-mini"] and package == []


async def test_an_asgi_app_serves_plain_and_streamed_calls() -> None:
    async def completions(request: Request) -> Any:
        body = await request.json()
        if body.get("stream"):

            async def events() -> AsyncIterator[bytes]:
                for event in STREAM:
                    yield event

            return StreamingResponse(events(), media_type="text/event-stream")
        return JSONResponse(_completion(prompt=len(body["messages"])))

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    memory = InMemoryTransport(app=app)
    records: list[CallRecord] = []
    result = await engine.chat(DEPLOYMENT, dict(BODY), _options(memory, records))
    assert result.usage.input_tokens == 1
    stream = await engine.chat_stream(DEPLOYMENT, dict(BODY), _options(memory, records))
    assert len([chunk async for chunk in stream]) >= 4
    assert [r.status for r in records] == ["success", "success"]
    assert records[1].response_cost is not None and records[1].response_cost > Decimal(0)
