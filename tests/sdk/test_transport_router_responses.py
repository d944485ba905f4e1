"""Unit tests: transport (sessions, retry delays, sync bridge), router, response objects, records."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import orjson
import pytest

from ledgerlm import errors, transport
from ledgerlm.engine.call import Call, CallOptions
from ledgerlm.engine.record import build_record, estimate_prompt_tokens
from ledgerlm.providers.base import Deployment
from ledgerlm.record import CallRecord
from ledgerlm.responses import Ledger, ModelResponse, OpenAIObject
from ledgerlm.router import resolve_deployment, validate_api_base
from ledgerlm.routing import Entry, ModelGroups, Router
from ledgerlm.types import CallContext, Cost, Usage


def test_retry_delay_backoff_jitter_and_retry_after() -> None:
    policy = transport.RetryPolicy(initial_delay_s=1.0, max_delay_s=5.0, max_retry_after_s=10.0)
    for attempt, base in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 5.0)]:
        delay = policy.delay(attempt, None)
        assert 0.75 * base <= delay <= base
    assert policy.delay(3, 0.0) == 0.0
    assert policy.delay(0, 7.5) == 7.5
    assert policy.delay(0, 60.0) <= 1.0, "a Retry-After beyond the cap falls back to backoff"


async def test_one_session_per_loop_closed_with_the_loop() -> None:
    first = await transport.get_session()
    assert first is await transport.get_session()

    def other_loop() -> tuple[object, bool]:
        async def use() -> object:
            return await transport.get_session()

        session = asyncio.run(use())
        return session, bool(session.closed)  # type: ignore[attr-defined]

    other, closed = await asyncio.to_thread(other_loop)
    assert other is not first
    assert closed, "asyncio.run shutting down its async generators closes that loop's session"
    await transport.close_session()
    assert first.closed
    assert (await transport.get_session()) is not first


def test_run_sync_and_iterate_sync_use_one_background_loop() -> None:
    async def where() -> str:
        return threading.current_thread().name

    assert transport.run_sync(where()) == "ledgerlm-sync-bridge"
    closed: list[bool] = []

    async def numbers() -> AsyncIterator[int]:
        try:
            for i in range(5):
                yield i
        finally:
            closed.append(True)

    assert list(transport.iterate_sync(numbers())) == [0, 1, 2, 3, 4]
    gen = transport.iterate_sync(numbers())
    assert next(gen) == 0
    gen.close()
    assert closed == [True, True]

    async def boom() -> None:
        raise errors.RateLimitError("x")

    with pytest.raises(errors.RateLimitError):
        transport.run_sync(boom())


def test_map_client_error_classes() -> None:
    kwargs = {"provider": "openai", "model": "m", "url": "http://h/v1/chat?q=secret", "timeout": 1.5}
    timeout = transport.map_client_error(TimeoutError(), **kwargs)  # type: ignore[arg-type]
    assert (
        type(timeout) is errors.APITimeoutError
        and "1.5 s" in timeout.message
        and "secret" not in timeout.message
    )
    assert type(transport.map_client_error(ValueError("bad"), **kwargs)) is errors.BadRequestError  # type: ignore[arg-type]
    assert type(transport.map_client_error(OSError("x"), **kwargs)) is errors.APIConnectionError  # type: ignore[arg-type]


def test_resolve_deployment_caches_and_validates() -> None:
    a = resolve_deployment("openai/gpt-4o", api_key="k1", api_base="https://x.test/v1")
    assert a is resolve_deployment("openai/gpt-4o", api_key="k1", api_base="https://x.test/v1")
    assert a is not resolve_deployment("openai/gpt-4o", api_key="k2", api_base="https://x.test/v1")
    assert (a.provider, a.model, a.model_group) == ("openai", "gpt-4o", "openai/gpt-4o")
    assert validate_api_base(None) is None
    with pytest.raises(errors.BadRequestError) as info:
        validate_api_base("localhost:8000")
    assert info.value.param == "api_base"


async def test_router_picks_in_group_and_unknown_group() -> None:
    d1 = Deployment("openai", "gpt-4o", deployment_id="d1", model_group="gpt-4o")
    d2 = Deployment("azure", "gpt4o-eu", deployment_id="d2", model_group="gpt-4o")
    router = Router(ModelGroups([Entry(d1, model_name="gpt-4o"), Entry(d2, model_name="gpt-4o")]))
    assert {(await router.pick("gpt-4o")).deployment.deployment_id for _ in range(100)} == {"d1", "d2"}
    assert router.groups.names() == ["gpt-4o"]
    with pytest.raises(errors.NotFoundError, match="gpt-5") as info:
        await router.pick("gpt-5")
    assert info.value.code == "model_not_found"


def _record(usage: Usage, cost: Cost, error: errors.APIError | None = None) -> CallRecord:
    call = Call(
        CallOptions(
            CallContext(request_id=str(uuid.uuid4()), request_tags=["t"], key_hash="h"), "acompletion"
        ),
        Deployment("openai", "gpt-4o", api_base="https://x", deployment_id="d1"),
        {
            "messages": [{"role": "user", "content": "abcdefgh"}],
            "temperature": 0,
            "extra_headers": {"a": "b"},
        },
        stream=True,
        start=1.0,
        usage=usage,
        cost=cost,
        first_token_time=1.5,
    )
    return build_record(call, error=error)


def test_records_built_without_validation_are_valid() -> None:
    usage = Usage(
        input_tokens=10, output_tokens=5, cache_read_tokens=4, provider_cost=Decimal("0.01"), raw={"x": 1}
    )
    cost = Cost(total=Decimal("0.002"), breakdown={"input": Decimal("0.002")}, source="catalog")
    record = _record(usage, cost)
    again = CallRecord.model_validate(record.model_dump())
    assert again == record
    assert CallRecord.model_validate_json(record.model_dump_json()) == record
    assert (record.usage.total_tokens, record.response_cost, record.time_to_first_token_s) == (
        15,
        Decimal("0.002"),
        0.5,
    )
    assert record.request_params == {"temperature": 0}
    failed = _record(
        Usage(), Cost.unpriced("no price"), errors.RateLimitError("slow", body={"e": 1}, status_code=429)
    )
    assert CallRecord.model_validate(failed.model_dump()) == failed
    assert failed.error is not None and (failed.error.type, failed.error.status) == ("RateLimitError", 429)
    # a failure that consumed nothing cost exactly $0, even at an unknown price (never "unpriced")
    assert failed.response_cost == Decimal(0) and failed.cost.unpriced_reason is None


def test_estimate_prompt_tokens() -> None:
    assert estimate_prompt_tokens({"messages": [{"role": "user", "content": "abcdefgh"}]}) == 5
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "abcd"}]}]}
    assert estimate_prompt_tokens(parts) == 4
    # a Responses API body: its input (a string is one message) and instructions (issue-qa: an abandoned
    # /v1/responses stream on an OpenAI deployment was logged with 0 tokens and $0)
    assert estimate_prompt_tokens({"input": "abcdefgh"}) == 5
    assert (
        estimate_prompt_tokens({"input": [{"role": "user", "content": "abcd"}], "instructions": "abcd"}) == 8
    )
    assert estimate_prompt_tokens({"input": 5}) == 0
    odd = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": 5}, "raw", {"type": "image_url"}]},
            "x",
        ]
    }
    assert estimate_prompt_tokens(odd) == 6


def test_response_objects() -> None:
    body = {
        "id": "c",
        "choices": [{"message": {"content": "hi", "role": "assistant"}}],
        "usage": {"prompt_tokens": 1},
    }
    record = _record(Usage(input_tokens=1), Cost(total=Decimal("0.5")))
    ledger = Ledger(
        usage=Usage(input_tokens=1), cost=Cost(total=Decimal("0.5")), request_id="r", record=record
    )
    resp = ModelResponse(body, ledger)
    assert resp.choices[0].message.content == "hi"
    assert isinstance(resp.choices[0], OpenAIObject)
    assert resp["choices"][0]["message"]["role"] == "assistant"
    assert resp.ledger.response_cost == Decimal("0.5")
    dumped = resp.model_dump()
    assert type(dumped) is dict and type(dumped["choices"][0]) is dict and dumped == body
    assert orjson.loads(resp.model_dump_json()) == body
    with pytest.raises(AttributeError, match="nope"):
        _ = resp.nope


def test_record_api_base_default_and_credentials_removed() -> None:
    options = CallOptions(CallContext(request_id="r"), "acompletion")
    unpriced = Cost.unpriced("x")
    default = Call(options, Deployment("openai", "m"), {}, start=1.0, cost=unpriced)
    default.default_api_base = "https://api.openai.com/v1"
    rec = build_record(default)
    assert rec.api_base == "https://api.openai.com/v1"
    dep = Deployment("vllm", "m", api_base="http://user:pw@gpu:8000/v1?token=t")
    rec = build_record(Call(options, dep, {}, start=1.0, cost=unpriced))
    assert rec.api_base == "http://gpu:8000/v1"
