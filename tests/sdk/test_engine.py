"""The engine API the proxy uses: chat / chat_stream / embed, sinks, exactly one terminal record."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import uuid
from decimal import Decimal

import orjson
import pytest

from ledgerlm import engine, errors
from ledgerlm.engine import CallOptions
from ledgerlm.providers.base import Deployment
from ledgerlm.record import CallRecord
from ledgerlm.simulator import Simulator
from ledgerlm.types import CallContext, Cost, Usage

MESSAGES = [{"role": "user", "content": "engine test"}]


def _deployment(base: str, **extra: object) -> Deployment:
    return Deployment(
        provider="openai", model="gpt-4o-mini", api_base=base, api_key="sk", model_group="public-4o"
    )


def _ctx() -> CallContext:
    return CallContext(request_id=str(uuid.uuid4()), metadata={"k": "v"}, request_tags=["t1"], user_id="u1")


def _body(**sim: object) -> dict[str, object]:
    body: dict[str, object] = {"messages": MESSAGES}
    if sim:
        body["extra_headers"] = {"x-sim": orjson.dumps(sim).decode()}
    return body


class _FixedPrice:
    """A price with a known result, so the engine's cost plumbing is checked independently of the catalog."""

    def cost(self, usage: Usage, *, at: object = None) -> Cost:
        total = Decimal(usage.input_tokens) * Decimal("0.001")
        return Cost(total=total, breakdown={"input": total}, source="custom")


async def test_chat_result_raw_bytes_usage_cost_and_sink(base: str) -> None:
    records: list[CallRecord] = []
    dep = _deployment(base)
    dep = dataclasses.replace(dep, price=_FixedPrice())
    ctx = _ctx()
    result = await engine.chat(dep, _body(prompt_tokens=10), CallOptions(ctx, sinks=(records.append,)))
    assert result.raw is not None and orjson.loads(result.raw) == result.body
    assert result.usage.input_tokens == 10
    assert result.cost.total == Decimal("0.010")
    assert records == [result.record]
    record = result.record
    assert record.response_cost == Decimal("0.010")
    assert record.cost.source == "custom"
    assert (record.requested_model, record.model_group) == ("public-4o", "public-4o")
    assert (record.user_id, record.request_tags, record.metadata) == ("u1", ["t1"], {"k": "v"})
    assert record.response_id == result.body["id"]
    assert record.finish_reasons == ["stop"]
    assert "extra_headers" not in record.request_params


async def test_price_is_compiled_once_per_deployment(base: str) -> None:
    """A deployment without a price of its own (frozen: never filled in) gets the catalog's price of
    its provider/model, compiled once and shared by every call (and every copy)."""
    dep = _deployment(base)
    assert dep.price is None
    await engine.chat(dep, _body(), CallOptions(_ctx()))
    first = engine.compiled_price(dep)
    assert first is not None
    await engine.chat(dep, _body(), CallOptions(_ctx()))
    assert engine.compiled_price(dep) is first
    assert engine.compiled_price(dataclasses.replace(dep, extra={"x": 1})) is first
    assert dep.price is None


async def test_failure_emits_one_record(base: str) -> None:
    records: list[CallRecord] = []
    with pytest.raises(errors.RateLimitError):
        await engine.chat(
            _deployment(base),
            _body(error_status=429),
            CallOptions(_ctx(), num_retries=0, sinks=(records.append,)),
        )
    assert len(records) == 1
    assert records[0].status == "failure"
    assert records[0].error is not None and records[0].error.status == 429
    assert records[0].usage.total_tokens == 0
    assert not records[0].response_cost  # nothing billed: $0 when priced, None when unpriced


async def test_stream_early_close_records_one_failure_with_usage_so_far(base: str) -> None:
    records: list[CallRecord] = []
    stream = await engine.chat_stream(
        _deployment(base),
        _body(content="one two three four", chunk_interval_ms=30),
        CallOptions(_ctx(), sinks=(records.append,)),
    )
    first = await stream.__anext__()
    second = await stream.__anext__()
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert second["choices"][0]["delta"]["content"] == "one "
    await stream.aclose()
    await stream.aclose()
    assert len(records) == 1
    assert records[0].status == "failure"
    assert records[0].error is not None and records[0].error.type == "ClientDisconnectedError"
    assert records[0].usage.output_tokens == 1  # estimated: one content delta seen
    assert records[0].usage.raw == {"ledgerlm_estimated": True}
    assert records[0].usage.input_tokens > 0
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_stream_success_sets_usage_cost_record(base: str) -> None:
    records: list[CallRecord] = []
    stream = await engine.chat_stream(
        _deployment(base),
        _body(prompt_tokens=12, completion_tokens=3),
        CallOptions(_ctx(), sinks=(records.append,)),
    )
    chunks = [c async for c in stream]
    assert chunks and all(c["choices"] for c in chunks)
    assert stream.usage is not None and stream.usage.total_tokens == 15
    assert stream.cost is not None
    assert records == [stream.record]
    assert stream.record is not None and stream.record.stream and stream.record.status == "success"


async def test_dropped_stream_is_recorded_once(base: str) -> None:
    records: list[CallRecord] = []
    stream = await engine.chat_stream(
        _deployment(base), _body(), CallOptions(_ctx(), sinks=(records.append,))
    )
    await stream.__anext__()
    del stream
    gc.collect()
    assert len(records) == 1 and records[0].status == "failure"


async def test_cancelled_call_is_recorded(base: str) -> None:
    records: list[CallRecord] = []
    task = asyncio.create_task(
        engine.chat(_deployment(base), _body(latency_ms=2000), CallOptions(_ctx(), sinks=(records.append,)))
    )
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(records) == 1
    assert records[0].error is not None and records[0].error.type == "ClientDisconnectedError"


async def test_missing_key_is_a_failure_record_without_request(
    sim: Simulator, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    records: list[CallRecord] = []
    dep = Deployment(provider="xai", model="grok-3", api_base=base)
    before = len(sim.requests)
    with pytest.raises(errors.MissingAPIKeyError, match="XAI_API_KEY"):
        await engine.chat(dep, _body(), CallOptions(_ctx(), sinks=(records.append,)))
    assert len(sim.requests) == before
    assert [r.error.type for r in records if r.error] == ["MissingAPIKeyError"]


async def test_embed(base: str) -> None:
    records: list[CallRecord] = []
    dep = Deployment(provider="openai", model="text-embedding-3-small", api_base=base, api_key="sk")
    result = await engine.embed(
        dep, {"input": ["a", "bb"]}, CallOptions(_ctx(), "aembedding", sinks=(records.append,))
    )
    assert len(result.body["data"]) == 2
    assert result.usage.input_tokens == 2
    assert records == [result.record] and result.record.call_type == "aembedding"


async def test_failure_record_counts_retries(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerlm import transport

    monkeypatch.setattr(
        transport, "DEFAULT_RETRY_POLICY", transport.RetryPolicy(initial_delay_s=0.0, max_delay_s=0.0)
    )
    records: list[CallRecord] = []
    with pytest.raises(errors.InternalServerError):
        await engine.chat(
            _deployment(base),
            _body(error_status=500),
            CallOptions(_ctx(), num_retries=2, sinks=(records.append,)),
        )
    assert [r.retries for r in records] == [2]
    assert records[0].api_base == base


async def test_unexpected_exception_still_records_failure(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerlm.providers.openai import OpenAICompatibleProvider

    def broken(self: object, body: object) -> object:
        raise KeyError("bug")

    monkeypatch.setattr(OpenAICompatibleProvider, "usage_from_body", broken)
    records: list[CallRecord] = []
    with pytest.raises(KeyError):
        await engine.chat(_deployment(base), _body(), CallOptions(_ctx(), sinks=(records.append,)))
    assert len(records) == 1 and records[0].error is not None
    assert records[0].error.type == "APIError" and "bug" in records[0].error.message


class _BrokenPrice:
    def cost(self, usage: Usage, *, at: object = None) -> Cost:
        raise ArithmeticError("bad price data")


async def test_a_pricing_failure_is_unpriced_not_a_lost_call(base: str) -> None:
    records: list[CallRecord] = []
    dep = _deployment(base)
    dep = dataclasses.replace(dep, price=_BrokenPrice())
    result = await engine.chat(dep, _body(), CallOptions(_ctx(), sinks=(records.append,)))
    assert result.cost.total is None and "bad price data" in (result.cost.unpriced_reason or "")
    stream = await engine.chat_stream(dep, _body(), CallOptions(_ctx(), sinks=(records.append,)))
    assert [c async for c in stream]
    assert [r.status for r in records] == ["success", "success"]
    assert records[1].response_cost is None
