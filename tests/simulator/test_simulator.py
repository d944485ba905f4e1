"""The provider simulator: formats, knobs, fault injection, request log (real HTTP, aiohttp client)."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from typer.testing import CliRunner

from ledgerlm.cli import build_app
from ledgerlm.simulator import Simulator, merge_knobs
from ledgerlm.simulator.knobs import Knobs, count_prompt_tokens
from ledgerlm.simulator.openai import stream_events, usage_body
from ledgerlm.simulator.state import split_words
from ledgerlm.sse import parse_sse_text

AUTH = {"Authorization": "Bearer sk-test"}
MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello simulator"}]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(models={"tuned": {"completion_tokens": 11, "cached_tokens": 2}}) as simulator:
        yield simulator


async def _post(
    url: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_chat_completion_format(sim: Simulator) -> None:
    status, headers, raw = await _post(
        f"{sim.url}/v1/chat/completions", {"model": "m", "messages": MSGS}, AUTH
    )
    body = orjson.loads(raw)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello from the ledgerlm simulator. You said: hello simulator",
        "refusal": None,
        "annotations": [],
    }
    usage = body["usage"]
    assert usage["prompt_tokens"] == count_prompt_tokens(MSGS) == 2 + 3 + 4 + 3
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert "content_filter_results" not in body["choices"][0]


async def test_stream_format_with_and_without_usage(sim: Simulator) -> None:
    body = {"model": "m", "messages": MSGS, "stream": True, "content": "x"}
    for include in (False, True):
        if include:
            body["stream_options"] = {"include_usage": True}
        status, headers, raw = await _post(f"{sim.url}/v1/chat/completions", body, AUTH)
        assert status == 200 and headers["Content-Type"] == "text/event-stream"
        events = parse_sse_text(raw)
        assert events[-1].data == "[DONE]"
        chunks = [orjson.loads(e.data) for e in events[:-1]]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        if include:
            assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 12
            assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
            assert all(c["usage"] is None for c in chunks[:-1])
        else:
            assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
            assert all("usage" not in c for c in chunks)


async def test_knob_precedence_model_then_header(sim: Simulator) -> None:
    url = f"{sim.url}/v1/chat/completions"
    _, _, raw = await _post(url, {"model": "tuned", "messages": MSGS}, AUTH)
    usage = orjson.loads(raw)["usage"]
    assert (usage["completion_tokens"], usage["prompt_tokens_details"]["cached_tokens"]) == (11, 2)
    header = {**AUTH, "x-sim": orjson.dumps({"completion_tokens": 5, "reasoning_tokens": 3}).decode()}
    _, _, raw = await _post(url, {"model": "tuned", "messages": MSGS}, header)
    usage = orjson.loads(raw)["usage"]
    assert usage["completion_tokens"] == 5
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 3
    assert usage["prompt_tokens_details"]["cached_tokens"] == 2


async def test_unknown_knob_and_bad_json_are_400(sim: Simulator) -> None:
    url = f"{sim.url}/v1/chat/completions"
    status, _, raw = await _post(url, {"model": "m", "messages": MSGS}, {**AUTH, "x-sim": '{"latency": 5}'})
    assert status == 400 and "latency" in orjson.loads(raw)["error"]["message"]
    async with aiohttp.ClientSession() as session, session.post(url, data=b"{nope", headers=AUTH) as resp:
        assert resp.status == 400
        assert orjson.loads(await resp.read())["error"]["type"] == "invalid_request_error"


async def test_fail_times_per_key_and_retry_after(sim: Simulator) -> None:
    url = f"{sim.url}/v1/chat/completions"
    knobs = {"error_status": 503, "fail_times": 2, "fail_key": "a", "retry_after": 1.5}
    headers = {**AUTH, "x-sim": orjson.dumps(knobs).decode()}
    results = [await _post(url, {"model": "m", "messages": MSGS}, headers) for _ in range(3)]
    assert [r[0] for r in results] == [503, 503, 200]
    assert results[0][1]["Retry-After"] == "1.5"
    assert orjson.loads(results[0][2])["error"]["type"] == "server_error"
    other = {**AUTH, "x-sim": orjson.dumps({**knobs, "fail_key": "b"}).decode()}
    assert (await _post(url, {"model": "m", "messages": MSGS}, other))[0] == 503
    sim.reset()
    assert sim.requests == [] and (await _post(url, {"model": "m", "messages": MSGS}, headers))[0] == 503


async def test_error_body_override_and_auth(sim: Simulator) -> None:
    url = f"{sim.url}/v1/chat/completions"
    custom = {"error_status": 400, "error_body": {"error": {"message": "custom", "code": "x"}}}
    status, _, raw = await _post(
        url, {"model": "m", "messages": MSGS}, {**AUTH, "x-sim": orjson.dumps(custom).decode()}
    )
    assert (status, orjson.loads(raw)) == (400, custom["error_body"])
    status, _, raw = await _post(url, {"model": "m", "messages": MSGS})
    assert status == 401 and orjson.loads(raw)["error"]["code"] == "invalid_api_key"


async def test_request_log_masks_credentials(sim: Simulator) -> None:
    await _post(f"{sim.url}/v1/chat/completions", {"model": "m", "messages": MSGS}, AUTH)
    entry = sim.requests[-1]
    assert entry.path == "/v1/chat/completions" and entry.json["model"] == "m"
    assert entry.headers["authorization"] == "***"
    assert "sk-test" not in repr(sim.requests)


async def test_azure_routes(sim: Simulator) -> None:
    base = f"{sim.url}/openai/deployments/dep1"
    status, _, raw = await _post(
        f"{base}/chat/completions?api-version=2024-10-21", {"messages": MSGS}, {"api-key": "k"}
    )
    body = orjson.loads(raw)
    assert status == 200
    assert body["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert "content_filter_results" in body["choices"][0]
    status, _, raw = await _post(f"{base}/chat/completions", {"messages": MSGS}, {"api-key": "k"})
    assert status == 400 and orjson.loads(raw)["error"]["code"] == "MissingApiVersionParameter"
    status, _, _ = await _post(f"{base}/chat/completions?api-version=1", {"messages": MSGS})
    assert status == 401
    status, _, raw = await _post(f"{base}/embeddings?api-version=1", {"input": "x"}, {"api-key": "k"})
    assert status == 200 and orjson.loads(raw)["object"] == "list"


async def test_embeddings_deterministic_dimensions_base64(sim: Simulator) -> None:
    url = f"{sim.url}/v1/embeddings"
    _, _, a = await _post(url, {"model": "e", "input": ["x", "y"], "dimensions": 6}, AUTH)
    _, _, b = await _post(url, {"model": "e", "input": ["x", "y"], "dimensions": 6}, AUTH)
    first = orjson.loads(a)
    assert a == b
    assert [len(d["embedding"]) for d in first["data"]] == [6, 6]
    assert first["data"][0]["embedding"] != first["data"][1]["embedding"]
    _, _, raw = await _post(
        url, {"model": "e", "input": "x", "dimensions": 6, "encoding_format": "base64"}, AUTH
    )
    vector = struct.unpack("<6f", base64.b64decode(orjson.loads(raw)["data"][0]["embedding"]))
    assert vector == pytest.approx(first["data"][0]["embedding"], abs=1e-6)
    status, _, _ = await _post(url, {"model": "e", "input": []}, AUTH)
    assert status == 400


async def test_models_route(sim: Simulator) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{sim.url}/v1/models") as resp:
        ids = [m["id"] for m in orjson.loads(await resp.read())["data"]]
    assert "tuned" in ids and resp.status == 200


async def test_stream_faults(sim: Simulator) -> None:
    url = f"{sim.url}/v1/chat/completions"
    body = {"model": "m", "messages": MSGS, "stream": True}
    header = {**AUTH, "x-sim": orjson.dumps({"stream_error_after_chunks": 2}).decode()}
    _, _, raw = await _post(url, body, header)
    events = parse_sse_text(raw)
    assert len(events) == 3 and events[-1].event == "error"
    assert orjson.loads(events[-1].data)["error"]["type"] == "server_error"
    header = {**AUTH, "x-sim": orjson.dumps({"break_after_chunks": 2}).decode()}
    with pytest.raises(aiohttp.ClientPayloadError):
        await _post(url, body, header)


def test_pure_builders() -> None:
    knobs = merge_knobs({"cached_tokens": 1}, {"audio_prompt_tokens": 2, "audio_completion_tokens": 3})
    usage = usage_body(knobs, {"messages": MSGS}, "abcd")
    assert usage["prompt_tokens"] == 12 + 2
    assert usage["completion_tokens"] == 1 + 3
    assert usage["prompt_tokens_details"] == {"cached_tokens": 1, "audio_tokens": 2}
    assert "cost" not in usage
    assert usage_body(Knobs(provider_cost="0.5"), {"messages": MSGS}, "")["cost"] == "0.5"
    assert split_words("a  b c") == ["a  ", "b ", "c"]
    events = stream_events(Knobs(content="a b"), {"messages": MSGS}, azure=True)
    first = orjson.loads(events[0][len(b"data: ") :])
    assert first["choices"] == [] and "prompt_filter_results" in first
    with pytest.raises(ValueError, match="nope"):
        merge_knobs({"nope": 1})


def test_sync_context_manager_and_cli_help() -> None:
    with Simulator() as sim:
        assert sim.url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError, match="not running"):
        _ = sim.url
    result = CliRunner().invoke(build_app(), ["simulate", "--help"])
    assert result.exit_code == 0 and "--port" in result.output
