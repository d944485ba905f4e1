"""The proxy's endpoints beside chat, with the official ``openai`` and ``anthropic`` clients against the
simulator: legacy completions (OpenAI-compatible pass-through and bridged to Anthropic, plain and
streamed), images (per image by size and quality), audio transcriptions (per second) and speech (per
character), moderations (free), rerank (Cohere format, per search) and Anthropic token counting (a free
call, never admitted against a budget). Each call: its spend row's call type, usage, cost breakdown
and tags; SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import pytest
from tests.e2e.conftest import MASTER_KEY, SIM_KEY, Proxy, model_list

from ledgerlm.pricing.unit_prices import IMAGE_PRICES, PER_UNIT_PRICES
from ledgerlm.simulator import Simulator

IN_PRICE = Decimal("0.000001")
OUT_PRICE = Decimal("0.000003")
TAGS = {"tags": ["app:media"]}


def _entries(sim_url: str) -> list[dict[str, Any]]:
    v1 = f"{sim_url}/v1"
    prices = {"input_cost_per_token": str(IN_PRICE), "output_cost_per_token": str(OUT_PRICE)}

    def entry(name: str, model: str, base: str = v1, **extra: Any) -> dict[str, Any]:
        return {
            "model_name": name,
            "litellm_params": {"model": model, "api_base": base, "api_key": SIM_KEY, **extra},
        }

    return [
        entry("instruct", "text-completion-openai/gpt-3.5-turbo-instruct", **prices),
        entry("claude-text", "anthropic/claude-sonnet-4-20250514", sim_url, **prices),
        entry("dalle", "openai/dall-e-3"),
        entry("whisper", "openai/whisper-1"),
        entry("tts", "openai/tts-1"),
        entry("mod", "openai/omni-moderation-latest"),
        entry("rerank", "cohere/rerank-v3.5", sim_url),
        entry("claude", "anthropic/claude-sonnet-4-20250514", sim_url),
        entry("gemini-count", "gemini/gemini-2.5-flash", sim_url),
    ]


@pytest.fixture(scope="module")
def xproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    simulator.models["gpt-3.5-turbo-instruct"] = {"prompt_tokens": 20, "completion_tokens": 5}
    simulator.models["claude-sonnet-4-20250514"] = {
        "prompt_tokens": 20,
        "completion_tokens": 5,
        "content": "Bridged.",
    }
    simulator.models["whisper-1"] = {"audio_seconds": 12.5}
    return proxy_factory(database_url, model_list=model_list(simulator.url) + _entries(simulator.url))


@pytest.fixture(autouse=True)
def _clients() -> Iterator[list[Any]]:
    opened: list[Any] = []
    yield opened
    for client in opened:
        client.close()


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    meta = row["metadata"]
    return json.loads(meta) if isinstance(meta, str) else dict(meta)


def _breakdown(row: dict[str, Any]) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in _meta(row)["cost"]["breakdown"].items()}


def _row(proxy: Proxy, headers: Any) -> dict[str, Any]:
    proxy.wait_written()
    return proxy.row(headers["x-request-id"])


@pytest.mark.parametrize("model", ["instruct", "claude-text"])
def test_completions_plain_and_stream(xproxy: Proxy, model: str) -> None:
    client = xproxy.client()
    raw = client.completions.with_raw_response.create(
        model=model, prompt="Say hi", max_tokens=5, extra_body=TAGS
    )
    completion = raw.parse()
    assert completion.object == "text_completion" and completion.choices[0].text
    assert completion.usage is not None and completion.usage.prompt_tokens == 20
    row = _row(xproxy, raw.headers)
    assert (
        row["call_type"] == "atext_completion"
        and row["prompt_tokens"] == 20
        and row["completion_tokens"] == 5
    )
    assert row["spend"] == 20 * IN_PRICE + 5 * OUT_PRICE == Decimal(raw.headers["x-ledgerlm-response-cost"])
    assert _breakdown(row) == {"input": 20 * IN_PRICE, "output": 5 * OUT_PRICE}
    assert "app:media" in row["request_tags"]
    chunks = list(
        client.completions.create(
            model=model, prompt="Say hi", max_tokens=5, stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == completion.choices[0].text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    xproxy.wait_written()
    rows = xproxy.rows(model_group=model, call_type="atext_completion")
    assert len(rows) == 2 and {r["spend"] for r in rows} == {row["spend"]}


def test_images_priced_per_image_by_size_and_quality(xproxy: Proxy) -> None:
    raw = xproxy.client().images.with_raw_response.generate(
        model="dalle", prompt="a ledger", n=2, size="1024x1792", quality="hd", extra_body=TAGS
    )
    assert len(raw.parse().data or []) == 2
    row = _row(xproxy, raw.headers)
    per_image = IMAGE_PRICES["dall-e-3"][("hd", "1024x1792")]
    assert row["call_type"] == "aimage_generation" and row["spend"] == 2 * per_image
    assert _breakdown(row) == {"image": 2 * per_image}
    assert _meta(row)["usage"]["raw"]["ledgerlm_units"] == {"image": 2}
    assert row["messages"] is None and "a ledger" not in json.dumps(_meta(row))  # the prompt is not stored
    # a size the price table does not list: unpriced with the reason, never $0
    raw = xproxy.client().images.with_raw_response.generate(model="dalle", prompt="x", size="256x256")
    row = _row(xproxy, raw.headers)
    assert row["spend"] is None and "256x256" in _meta(row)["cost"]["unpriced_reason"]


def test_audio_transcription_per_second_and_speech_per_character(xproxy: Proxy) -> None:
    client = xproxy.client()
    raw = client.audio.transcriptions.with_raw_response.create(
        model="whisper", file=("clip.wav", b"RIFF" + b"\0" * 4000, "audio/wav")
    )
    assert raw.parse().text == "Simulated transcript."
    row = _row(xproxy, raw.headers)
    per_second = PER_UNIT_PRICES["whisper-1"]["audio_second"]
    assert row["call_type"] == "atranscription" and row["spend"] == Decimal("12.5") * per_second
    assert _breakdown(row) == {"audio_second": Decimal("12.5") * per_second}
    speech = client.audio.speech.with_raw_response.create(model="tts", voice="alloy", input="Hello ledger")
    assert speech.content.startswith(b"ID3") and speech.headers["content-type"] == "audio/mpeg"
    row = _row(xproxy, speech.headers)
    per_char = PER_UNIT_PRICES["tts-1"]["character"]
    assert row["call_type"] == "aspeech" and row["spend"] == len("Hello ledger") * per_char
    assert _breakdown(row) == {"character": len("Hello ledger") * per_char}


def test_moderation_is_free_and_rerank_per_search(xproxy: Proxy) -> None:
    raw = xproxy.client().moderations.with_raw_response.create(model="mod", input=["a", "b"])
    assert len(raw.parse().results) == 2
    row = _row(xproxy, raw.headers)
    assert row["call_type"] == "amoderation" and row["spend"] == 0 and _breakdown(row) == {"request": 0}
    body = {"model": "rerank", "query": "ledger", "documents": ["a", "b", "c"], "top_n": 2, **TAGS}
    status, answer, headers = xproxy.request("POST", "/v1/rerank", body)
    assert status == 200 and [r["index"] for r in answer["results"]] == [0, 1]
    row = _row(xproxy, headers)
    assert row["call_type"] == "arerank" and row["spend"] == Decimal("0.002")
    assert _breakdown(row) == {"search": Decimal("0.002")} and "app:media" in row["request_tags"]


def test_count_tokens_is_free_and_never_admitted(xproxy: Proxy, _clients: list[Any]) -> None:
    key = xproxy.new_key(max_budget=0)  # this key may not spend anything
    client = anthropic.Anthropic(base_url=xproxy.url, api_key=key, max_retries=0, timeout=30)
    _clients.append(client)
    messages: Any = [{"role": "user", "content": "count me please"}]
    with pytest.raises(anthropic.APIStatusError):
        client.messages.create(model="claude", max_tokens=5, messages=messages)  # over budget
    raw = client.messages.with_raw_response.count_tokens(model="claude", messages=messages)
    assert raw.parse().input_tokens > 0
    row = _row(xproxy, raw.headers)
    assert row["call_type"] == "acount_tokens" and row["spend"] == 0
    assert row["prompt_tokens"] == 0, "a token count is not billed input"
    local = client.messages.count_tokens(model="gpt-4o-mini", messages=messages)  # estimated locally
    assert local.input_tokens > 0
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=xproxy.url, api_key="sk-bad", max_retries=0).messages.count_tokens(
            model="claude", messages=messages
        )


def test_unsupported_provider_is_a_clear_400(xproxy: Proxy) -> None:
    status, answer, _ = xproxy.request(
        "POST", "/v1/images/generations", {"model": "claude", "prompt": "x"}, key=MASTER_KEY
    )
    assert status == 400 and "anthropic" in answer["error"]["message"]
