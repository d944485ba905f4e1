"""End to end: the SDK against the project's simulator over real HTTP, sync and async, plain and streamed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sdk_helpers import MESSAGES, knobs

import ledgerlm
from ledgerlm.simulator import Simulator


def test_completion_sync_returns_openai_shape_and_canonical_usage(sim: Simulator, base: str) -> None:
    resp = ledgerlm.completion(
        "openai/gpt-4o-mini",
        MESSAGES,
        api_base=base,
        api_key="sk-test",
        temperature=0.2,
        **knobs(
            prompt_tokens=120, completion_tokens=40, cached_tokens=100, reasoning_tokens=30, content="hi!"
        ),
    )
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.content == "hi!"
    assert resp.usage.prompt_tokens == 120
    assert resp.model_dump()["choices"][0]["message"]["role"] == "assistant"
    usage = resp.ledger.usage
    assert (usage.input_tokens, usage.cache_read_tokens) == (120, 100)
    assert (usage.output_tokens, usage.reasoning_tokens) == (40, 30)
    record = resp.ledger.record
    assert record.status == "success"
    assert record.call_type == "completion"
    assert record.provider == "openai" and record.model == "gpt-4o-mini"
    assert record.id == resp.ledger.request_id
    assert record.request_params["temperature"] == 0.2
    assert "messages" not in record.request_params
    assert record.response_cost == resp.ledger.response_cost
    sent = sim.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "***"
    assert sent.json["model"] == "gpt-4o-mini" and sent.json["temperature"] == 0.2
    assert "extra_headers" not in sent.json


async def test_acompletion_async(base: str) -> None:
    resp = await ledgerlm.acompletion(
        "openai/gpt-4o-mini",
        MESSAGES,
        api_base=base,
        api_key="sk-test",
        metadata={"tags": ["team-a"]},
        user="customer-7",
    )
    assert resp.ledger.record.end_user == "customer-7"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.ledger.record.call_type == "acompletion"
    assert resp.ledger.record.request_tags == ["team-a"]
    # default usage is deterministic from the request: ceil(24 chars / 4) + 3 per message
    assert resp.usage.prompt_tokens == 9 == resp.ledger.usage.input_tokens


def test_stream_sync_hides_the_usage_chunk_it_asked_for(sim: Simulator, base: str) -> None:
    stream = ledgerlm.completion(
        "openai/gpt-4o-mini",
        MESSAGES,
        stream=True,
        api_base=base,
        api_key="sk-test",
        **knobs(content="a b c"),
    )
    assert stream.ledger is None
    chunks = list(stream)
    assert sim.requests[-1].json["stream_options"] == {"include_usage": True}
    assert all(c.choices for c in chunks), "the usage-only chunk must not reach a caller who did not ask"
    text = "".join(c.choices[0].delta.get("content") or "" for c in chunks)
    assert text == "a b c"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert stream.ledger is not None
    assert stream.ledger.usage.output_tokens == 2  # ceil(len("a b c") / 4)
    assert stream.ledger.record.stream is True
    assert stream.ledger.record.status == "success"
    assert stream.ledger.record.finish_reasons == ["stop"]


async def test_stream_async_shows_usage_when_asked(base: str) -> None:
    stream = await ledgerlm.acompletion(
        "openai/gpt-4o-mini",
        MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        api_base=base,
        api_key="sk-test",
        **knobs(prompt_tokens=50, completion_tokens=7, cached_tokens=20),
    )
    chunks = [c async for c in stream]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 50
    assert stream.ledger.usage.cache_read_tokens == 20
    assert stream.ledger.record.time_to_first_token_s is not None


async def test_streamed_and_plain_usage_are_equal(base: str) -> None:
    settings = knobs(
        prompt_tokens=31, completion_tokens=17, cached_tokens=4, reasoning_tokens=5, provider_cost="0.0012"
    )
    plain = await ledgerlm.acompletion(
        "openrouter/openai/gpt-4o", MESSAGES, api_base=base, api_key="k", **settings
    )
    stream = await ledgerlm.acompletion(
        "openrouter/openai/gpt-4o", MESSAGES, stream=True, api_base=base, api_key="k", **settings
    )
    async for _ in stream:
        pass
    assert stream.ledger.usage == plain.ledger.usage
    assert plain.ledger.usage.provider_cost == Decimal("0.0012")
    assert plain.ledger.record.provider == "openrouter"
    assert plain.ledger.record.model == "openai/gpt-4o"


def test_embedding_sync_and_usage(sim: Simulator, base: str) -> None:
    resp = ledgerlm.embedding(
        "openai/text-embedding-3-small", ["one", "two"], api_base=base, api_key="sk", dimensions=4
    )
    assert resp.object == "list"
    assert [d.index for d in resp.data] == [0, 1]
    assert len(resp.data[0].embedding) == 4
    assert resp.ledger.usage.input_tokens == resp.usage.prompt_tokens == 2
    assert resp.ledger.record.call_type == "embedding"
    assert sim.requests[-1].path == "/v1/embeddings"


async def test_aembedding_bare_model_name(base: str) -> None:
    resp = await ledgerlm.aembedding("text-embedding-3-small", "hello world", api_base=base, api_key="sk")
    assert resp.ledger.record.provider == "openai"
    assert resp.ledger.record.call_type == "aembedding"
    assert resp.ledger.usage.input_tokens == 3


def test_azure_deployment_url_version_key_and_filter_fields(sim: Simulator) -> None:
    resp = ledgerlm.completion(
        "azure/my-gpt4o", MESSAGES, api_base=sim.url, api_key="az-key", api_version="2024-10-21"
    )
    sent = sim.requests[-1]
    assert sent.path == "/openai/deployments/my-gpt4o/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == "***"
    assert "authorization" not in sent.headers
    assert resp.prompt_filter_results[0].content_filter_results.hate.filtered is False
    assert "content_filter_results" in resp.choices[0]
    assert resp.ledger.record.provider == "azure"


def test_azure_stream_and_embeddings(sim: Simulator) -> None:
    stream = ledgerlm.completion("azure/dep", MESSAGES, stream=True, api_base=sim.url, api_key="az")
    chunks = list(stream)
    assert chunks[0].choices == [] and "prompt_filter_results" in chunks[0]
    assert stream.ledger.usage.input_tokens == 9
    emb = ledgerlm.embedding("azure/emb-dep", "x", api_base=sim.url, api_key="az")
    assert sim.requests[-1].path == "/openai/deployments/emb-dep/embeddings"
    assert emb.ledger.usage.input_tokens == 1


@pytest.mark.parametrize("preset", ["groq", "deepseek", "mistral", "xai", "together", "fireworks"])
def test_presets_talk_openai_format(sim: Simulator, base: str, preset: str) -> None:
    resp = ledgerlm.completion(f"{preset}/some-model", MESSAGES, api_base=base, api_key="k")
    assert resp.ledger.record.provider == preset
    assert sim.requests[-1].json["model"] == "some-model"


def test_mistral_stream_gets_no_stream_options(sim: Simulator, base: str) -> None:
    stream = ledgerlm.completion("mistral/m", MESSAGES, stream=True, api_base=base, api_key="k")
    list(stream)
    assert "stream_options" not in sim.requests[-1].json


def test_vllm_needs_no_key(sim: Simulator, base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    resp = ledgerlm.completion("vllm/llama", MESSAGES, api_base=base, **knobs(require_auth=False))
    assert "authorization" not in sim.requests[-1].headers
    assert resp.ledger.record.status == "success"


def test_key_from_environment(sim: Simulator, base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-env")
    resp = ledgerlm.completion("groq/llama-3.3-70b-versatile", MESSAGES, api_base=base)
    assert resp.ledger.record.status == "success"
    assert sim.requests[-1].headers["authorization"] == "***"


def test_sync_stream_closed_early_records_one_failure(base: str) -> None:
    stream = ledgerlm.completion(
        "openai/gpt-4o-mini",
        MESSAGES,
        stream=True,
        api_base=base,
        api_key="sk",
        **knobs(content="w1 w2 w3 w4 w5", chunk_interval_ms=20),
    )
    with stream:
        first = next(stream)
        assert first.choices[0].delta.role == "assistant"
    assert stream.ledger is not None
    assert stream.ledger.record.status == "failure"
    assert stream.ledger.record.error.type == "ClientDisconnectedError"
    with pytest.raises(StopIteration):
        next(stream)


async def test_async_stream_closed_early(base: str) -> None:
    stream = await ledgerlm.acompletion(
        "openai/gpt-4o-mini",
        MESSAGES,
        stream=True,
        api_base=base,
        api_key="sk",
        **knobs(chunk_interval_ms=20),
    )
    async with stream:
        async for _ in stream:
            break
    assert stream.ledger.record.status == "failure"
    with pytest.raises(TypeError, match="async for"):
        next(iter(stream))


def test_demo_sdk_part_prints_real_figures() -> None:
    from rich.console import Console

    from ledgerlm import demo

    with Simulator(models=demo.SIM_MODELS) as own:
        rows = demo.run_sdk_demo(f"{own.url}/v1")
        assert len(own.requests) == 4
    console = Console(record=True, width=140)
    demo.render(rows, console)
    out = console.export_text()
    assert "completion(stream=True)" in out and "text-embedding-3-small" in out
    assert "1200" in out and "1024" in out  # o3-mini knobs: prompt and cached tokens, canonical


async def test_many_concurrent_calls_share_one_session(base: str) -> None:
    import asyncio

    async def plain(i: int) -> str:
        resp = await ledgerlm.acompletion(
            "openai/gpt-4o-mini", [{"role": "user", "content": f"n{i}"}], api_base=base, api_key="sk"
        )
        return str(resp.choices[0].message.content)

    async def streamed(i: int) -> str:
        stream = await ledgerlm.acompletion(
            "openai/gpt-4o-mini",
            [{"role": "user", "content": f"s{i}"}],
            stream=True,
            api_base=base,
            api_key="sk",
        )
        return "".join([c.choices[0].delta.get("content") or "" async for c in stream])

    results = await asyncio.gather(*(plain(i) for i in range(60)), *(streamed(i) for i in range(60)))
    assert results[:60] == [f"Hello from the ledgerlm simulator. You said: n{i}" for i in range(60)]
    assert results[60:] == [f"Hello from the ledgerlm simulator. You said: s{i}" for i in range(60)]
