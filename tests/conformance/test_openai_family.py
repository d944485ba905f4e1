"""Conformance: recorded OpenAI-family and Azure payloads (``../shared/fixtures``) through the providers.

For every chat-completions and embeddings case of openai, azure_openai, deepseek, groq, mistral,
openrouter and xai: the non-streamed body goes through ``parse_chat_response`` /
``parse_embedding_response`` + ``usage_from_body``; the streamed body through the provider's stream
decoder (whole, and split in small pieces); error bodies through ``error_from_response``. The canonical
usage is checked against each case's ``meta.json`` under the DESIGN.md rules, computed here
independently of ``ledgerlm.usage``:

* ``input_tokens`` = ``prompt_tokens`` (OpenAI-family prompts already include cached tokens);
* ``cache_read_tokens`` = ``prompt_tokens_details.cached_tokens`` (DeepSeek: ``prompt_cache_hit_tokens``);
* ``output_tokens`` = ``completion_tokens``, plus ``reasoning_tokens`` when the provider reports them
  outside it (xAI: ``total = prompt + completion + reasoning``);
* ``input_tokens + output_tokens`` = the provider's ``total_tokens``;
* provider cost: OpenRouter ``cost`` (+ ``upstream_inference_cost`` for BYOK), xAI ticks x 1e-10 USD.

Responses-API cases (``api: responses``) go through the same providers in Responses mode
(``RESPONSES_FLAG``): ``parse_chat_response`` keeps the ``response`` body, ``usage_from_body`` reads its
``usage`` (``input_tokens`` includes ``input_tokens_details.cached_tokens`` and OpenRouter's
``cache_write_tokens``; ``output_tokens`` includes ``output_tokens_details.reasoning_tokens``), the
stream decoder yields every event and takes the usage from ``response.completed``; each case is then
priced with the deployment's price plus the per-call tool fees, like the proxy's ``/v1/responses``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerlm.errors import error_for_status
from ledgerlm.pricing import compile_price
from ledgerlm.pricing.tool_fees import ToolFeePrice
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.openai.responses import RESPONSES_FLAG
from ledgerlm.types import Usage

pytestmark = pytest.mark.conformance

FAMILY = {
    "openai": "openai",
    "azure_openai": "azure",
    "deepseek": "deepseek",
    "groq": "groq",
    "mistral": "mistral",
    "openrouter": "openrouter",
    "xai": "xai",
}
_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"

# Values read by hand from the INDEX/meta of some cases, pinned so a systematic error cannot hide.
PINNED: dict[str, dict[str, Any]] = {
    "openai/chat_cached_prompt_tokens": {
        "input_tokens": 3897,
        "cache_read_tokens": 3840,
        "output_tokens": 75,
    },
    "openai/chat_reasoning_gpt5": {"output_tokens": 75, "reasoning_tokens": 64},
    "deepseek/chat_cache_miss_reasoner": {"input_tokens": 12, "output_tokens": 789, "reasoning_tokens": 415},
    "deepseek/chat_stream_reasoner": {"input_tokens": 6, "output_tokens": 212, "reasoning_tokens": 198},
    "xai/chat_stream_reasoning": {
        "input_tokens": 12,
        "cache_read_tokens": 11,
        "output_tokens": 291,
        "reasoning_tokens": 290,
        "provider_cost": Decimal("0.000146625"),
    },
    "mistral/chat_cached_prompt_tokens": {"input_tokens": 268, "cache_read_tokens": 224},
    "groq/chat_stream": {"input_tokens": 18, "output_tokens": 73},
    "openrouter/chat_cost": {"provider_cost": Decimal("0.00019325"), "reasoning_tokens": 64},
    "openrouter/chat_byok_no_cost": {"provider_cost": Decimal("0.0003253")},
    "azure_openai/embeddings": {"input_tokens": 8, "output_tokens": 0},
    "openai/responses_cached_input": {"input_tokens": 3763, "cache_read_tokens": 3584, "output_tokens": 44},
    "openai/responses_reasoning": {"output_tokens": 1095, "reasoning_tokens": 1088},
    "openai/responses_stream_reasoning": {"input_tokens": 53, "output_tokens": 469, "reasoning_tokens": 448},
    "deepseek/responses_stream_cached_reasoning": {"input_tokens": 366, "cache_read_tokens": 256},
    "openrouter/responses_cache_write_cost": {
        "cache_write_tokens": 4012,
        "provider_cost": Decimal("0.025265"),
    },
    "openrouter/responses_stream_cost": {"provider_cost": Decimal("0.0000825")},
}


def _cases() -> list[str]:
    if not _FIXTURES.is_dir():
        return ["<absent>"]
    return sorted(
        f"{d}/{c.name}" for d in FAMILY for c in (_FIXTURES / d).iterdir() if (c / "meta.json").exists()
    )


def _expected(usage: dict[str, Any]) -> dict[str, Any]:
    responses = "input_tokens" in usage  # Responses API names
    prompt = int(usage.get("input_tokens" if responses else "prompt_tokens") or 0)
    completion = int(usage.get("output_tokens" if responses else "completion_tokens") or 0)
    pdet = usage.get("input_tokens_details" if responses else "prompt_tokens_details") or {}
    cdet = usage.get("output_tokens_details" if responses else "completion_tokens_details") or {}
    reasoning = int(cdet.get("reasoning_tokens") or 0)
    total = usage.get("total_tokens")
    outside = reasoning and total is not None and int(total) == prompt + completion + reasoning
    cost: Decimal | None = None
    if "cost_in_usd_ticks" in usage:
        cost = Decimal(str(usage["cost_in_usd_ticks"])) * Decimal("1e-10")
    elif "cost" in usage:
        cost = Decimal(str(usage["cost"]))
        if usage.get("is_byok"):
            cost += Decimal(str(usage["cost_details"]["upstream_inference_cost"]))
    return {
        "input_tokens": prompt,
        "cache_read_tokens": int(pdet.get("cached_tokens") or usage.get("prompt_cache_hit_tokens") or 0),
        "output_tokens": completion + reasoning if outside else completion,
        "cache_write_tokens": int(pdet.get("cache_write_tokens") or 0),
        "reasoning_tokens": reasoning,
        "provider_cost": cost,
        "total_tokens": None if total is None else int(total),
    }


def _check_usage(case: str, usage: Usage, recorded: dict[str, Any]) -> None:
    want = _expected(recorded)
    total = want.pop("total_tokens")
    got = {name: getattr(usage, name) for name in want}
    assert got == want, case
    if total is not None:
        assert usage.total_tokens == total, f"{case}: canonical input+output must equal the provider's total"
    for name, value in PINNED.get(case, {}).items():
        assert getattr(usage, name) == value, f"{case}: {name}"
    assert dict(usage.raw) == recorded, "the provider's usage is kept unchanged in raw"


def _stream_bytes(folder: Path) -> bytes:
    sse = folder / "response.sse"
    if sse.exists():
        return sse.read_bytes()
    lines = (folder / "response.chunks.txt").read_text().splitlines()
    return "".join(f"data: {line}\n\n" for line in lines if line.strip()).encode() + b"data: [DONE]\n\n"


def _decode(
    provider_name: str, raw: bytes, piece: int | None, extra: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], Any]:
    provider = get_provider(provider_name)
    deployment = Deployment(provider_name, "m", extra=dict(extra or {}))
    decoder = provider.stream_decoder(deployment, caller_wants_usage=True)
    chunks: list[dict[str, Any]] = []
    step = piece or len(raw) or 1
    for i in range(0, len(raw), step):
        chunks += decoder.feed(raw[i : i + step])
    chunks += decoder.close()
    return chunks, decoder


@pytest.mark.parametrize("case", _cases())
def test_recorded_case(shared_fixtures: Path, case: str) -> None:
    folder = shared_fixtures / case
    meta = json.loads((folder / "meta.json").read_text())
    if meta["api"] not in ("chat.completions", "embeddings", "responses"):
        pytest.fail(f"{meta['api']} API: no conformance check for it yet")
    provider_name = FAMILY[case.split("/")[0]]
    if meta["api"] == "responses":
        _check_responses_case(case, provider_name, folder, meta)
        return
    provider = get_provider(provider_name)
    deployment = Deployment(provider=provider_name, model=str(meta.get("model")))
    summary = meta.get("usage_summary") or {}
    if meta["status"] != 200:
        _check_error(provider, deployment, folder, meta)
    elif meta["streaming"]:
        _check_stream(case, provider_name, folder, summary)
    else:
        body = json.loads((folder / "response.json").read_text())
        if meta["api"] == "embeddings":
            out = provider.parse_embedding_response(deployment, body)
            assert out["data"] and "embedding" in out["data"][0]
        else:
            out = provider.parse_chat_response(deployment, body)
            assert out["choices"] and "message" in out["choices"][0]
        _check_usage(case, provider.usage_from_body(body), summary["usage"])


def _check_stream(case: str, provider_name: str, folder: Path, summary: dict[str, Any]) -> None:
    raw = _stream_bytes(folder)
    chunks, decoder = _decode(provider_name, raw, None)
    split_chunks, split_decoder = _decode(provider_name, raw, 7)
    assert chunks == split_chunks, "bytes split anywhere decode to the same chunks"
    # Azure's filter-only chunk (choices [], prompt_filter_results) has object "" on the wire
    assert chunks and all(c.get("object") == "chat.completion.chunk" for c in chunks if c["choices"])
    assert decoder.response_id and decoder.response_id == chunks[-1]["id"]
    assert decoder.finish_reasons, "a complete recorded stream has a finish reason"
    final = summary.get("final_event")
    if final is None:
        assert decoder.usage is None, "no usage was recorded, none may be invented"
        return
    assert decoder.usage is not None
    _check_usage(case, decoder.usage, final["usage"])
    assert split_decoder.usage == decoder.usage


def _check_error(provider: Any, deployment: Deployment, folder: Path, meta: dict[str, Any]) -> None:
    raw = (folder / "response.json").read_bytes()
    error = provider.error_from_response(deployment, meta["status"], raw, {"x-request-id": "req-1"})
    expected = error_for_status(meta["status"])
    assert isinstance(error, expected)
    assert error.status_code == meta["status"]
    assert error.request_id == "req-1"
    body = json.loads(raw)
    assert error.body == body
    message = body["error"]["message"] if isinstance(body.get("error"), dict) else None
    if message:
        assert message in error.message


def _check_responses_case(case: str, provider_name: str, folder: Path, meta: dict[str, Any]) -> None:
    """A recorded Responses-API payload through the provider in Responses mode, then priced."""
    provider = get_provider(provider_name)
    deployment = Deployment(provider_name, str(meta.get("model")), extra={RESPONSES_FLAG: True})
    summary = meta.get("usage_summary") or {}
    if meta["status"] != 200:
        _check_error(provider, deployment, folder, meta)
        return
    if meta["streaming"]:
        raw = _stream_bytes(folder)
        events, decoder = _decode(provider_name, raw, None, deployment.extra)
        split_events, split_decoder = _decode(provider_name, raw, 7, deployment.extra)
        assert events == split_events, "bytes split anywhere decode to the same events"
        assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
        assert decoder.done and decoder.finish_reasons == ["completed"]
        assert decoder.response_id == events[-1]["response"]["id"]
        usage = decoder.usage
        assert usage is not None and split_decoder.usage == usage
        _check_usage(case, usage, summary["final_event"]["usage"])
        recorded = events[-1]["response"]
    else:
        body = json.loads((folder / "response.json").read_text())
        assert provider.parse_chat_response(deployment, body) is body
        usage = provider.usage_from_body(body)
        _check_usage(case, usage, summary["usage"])
        recorded = body
    _check_responses_cost(case, provider_name, recorded, usage)


def _check_responses_cost(case: str, provider_name: str, response: dict[str, Any], usage: Usage) -> None:
    price = ToolFeePrice(compile_price(provider_name, str(response.get("model"))))
    cost = price.cost(usage)
    assert cost.total is not None, f"{case}: unpriced ({cost.unpriced_reason})"
    assert cost.total > 0 and sum(cost.breakdown.values(), Decimal(0)) == cost.total, case
    if usage.provider_cost is not None:
        assert cost.total == usage.provider_cost, f"{case}: the provider's own cost is used"
    elif usage.cache_read_tokens:
        assert cost.breakdown.get("cache_read"), f"{case}: cached input priced as cache reads"
