"""Conformance over every Anthropic, Gemini, Vertex AI and Bedrock case in ``../shared/fixtures``.

For each recorded response the provider's own parser / stream decoder (the code the SDK and the proxy
run) must give the canonical usage that the case's ``meta.json`` shows, read through the DESIGN.md rules
(computed here independently from meta.json, never from our mapping):

* Anthropic (and Bedrock InvokeModel with Claude): input = input_tokens + cache_creation_input_tokens +
  cache_read_input_tokens; in streams ``message_delta`` values replace ``message_start`` ones.
* Bedrock Converse: input = inputTokens + cacheRead + cacheWrite; invocation metrics likewise.
* Gemini / Vertex: input = promptTokenCount + toolUsePromptTokenCount; output = candidatesTokenCount +
  thoughtsTokenCount; ``totalTokenCount`` must equal input + output.

Each successful case is priced by the cost engine (catalog); each error case maps to the error class of
its status with the provider body kept. Bytes are fed to decoders in small pieces (splits anywhere).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from ledgerlm.errors import APIError, AuthenticationError, error_for_status
from ledgerlm.pricing import compile_price
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.gemini.response import GeminiChunkTranslator
from ledgerlm.types import Usage

pytestmark = pytest.mark.conformance

DIRS = {"anthropic": "anthropic", "gemini": "gemini", "vertex": "vertex_ai", "bedrock": "bedrock"}
ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
CASES = sorted(
    f"{d}/{c.name}" for d in DIRS if (ROOT / d).is_dir() for c in (ROOT / d).iterdir() if c.is_dir()
)
# Without ../shared one placeholder case lets the shared_fixtures fixture skip with its clear message.
PARAMS = CASES or ["<absent>"]


def _int(mapping: dict[str, Any], *keys: str) -> int:
    return sum(int(mapping.get(k) or 0) for k in keys)


def _anthropic_expected(usage: dict[str, Any]) -> tuple[int, int, int, int, int]:
    parts = usage.get("cache_creation") or {}
    write = max(
        _int(usage, "cache_creation_input_tokens"),
        _int(parts, "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"),
    )
    read = _int(usage, "cache_read_input_tokens")
    return _int(usage, "input_tokens") + read + write, _int(usage, "output_tokens"), read, write, 0


def _converse_expected(usage: dict[str, Any]) -> tuple[int, int, int, int, int]:
    read = max(_int(usage, "cacheReadInputTokens"), _int(usage, "cacheReadInputTokenCount"))
    write = max(_int(usage, "cacheWriteInputTokens"), _int(usage, "cacheWriteInputTokenCount"))
    base = max(_int(usage, "inputTokens"), _int(usage, "inputTokenCount"))
    output = max(_int(usage, "outputTokens"), _int(usage, "outputTokenCount"))
    if "totalTokens" in usage:
        assert usage["totalTokens"] == base + read + write + output, (
            "meta: Bedrock total is input+cache+output"
        )
    return base + read + write, output, read, write, 0


def _gemini_expected(meta: dict[str, Any]) -> tuple[int, int, int, int, int]:
    total_in = _int(meta, "promptTokenCount", "toolUsePromptTokenCount")
    thoughts = _int(meta, "thoughtsTokenCount")
    output = _int(meta, "candidatesTokenCount") + thoughts
    if "totalTokenCount" in meta:
        assert meta["totalTokenCount"] == total_in + output, (
            "meta: Gemini total is prompt+tool+candidates+thoughts"
        )
    return total_in, output, _int(meta, "cachedContentTokenCount"), 0, thoughts


def expected_usage(folder: str, summary: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """(input, output, cache read, cache write, reasoning) from meta.json's usage_summary."""
    if folder in ("gemini", "vertex"):
        meta = summary.get("usageMetadata") or summary["final_event"]["usageMetadata"]
        return _gemini_expected(meta)
    if "events" in summary:
        merged: dict[str, Any] = {}
        for event in summary["events"]:
            merged.update(event.get("usage") or {})
        return _anthropic_expected(merged)
    usage = summary.get("usage") or summary["final_event"].get("usage")
    if usage is None:
        usage = summary["final_event"]["amazon-bedrock-invocationMetrics"]
    if "input_tokens" in usage:
        return _anthropic_expected(usage)
    return _converse_expected(usage)


def _deployment(folder: str, meta: dict[str, Any]) -> Deployment:
    provider = DIRS[folder]
    path = unquote(meta["endpoint_path"])
    if provider == "bedrock":
        model_id = path.split("/model/", 1)[1].rsplit("/", 1)[0]
        model = f"invoke/{model_id}" if meta["api"].startswith("invoke") else model_id
    elif provider in ("gemini", "vertex_ai"):
        model = meta.get("model") or path.rsplit("/models/", 1)[1].split(":")[0]
    else:
        model = meta.get("model") or "claude"
    return Deployment(provider=provider, model=model, api_key="recorded")


def _feed(decoder: Any, data: bytes, step: int = 17) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = []
    for i in range(0, len(data), step):
        chunks += decoder.feed(data[i : i + step])
    return chunks + decoder.close()


def parse_case(
    case: Path, deployment: Deployment
) -> tuple[Usage, list[dict[str, Any]], dict[str, Any] | None]:
    """(canonical usage, OpenAI chunks (streams), OpenAI completion (plain)) of a recorded response."""
    provider = get_provider(deployment.provider)
    for name in ("response.sse", "response.eventstream"):
        if (case / name).exists():
            decoder = provider.stream_decoder(deployment, caller_wants_usage=True)
            chunks = _feed(decoder, (case / name).read_bytes())
            assert decoder.usage is not None, "a recorded stream carries usage"
            return decoder.usage, chunks, None
    body = json.loads((case / "response.json").read_text())
    if isinstance(body, list):  # streamGenerateContent without alt=sse: a JSON array of chunks
        translator = GeminiChunkTranslator(
            model=deployment.model,
            caller_wants_usage=True,
            on_error=lambda c: AssertionError(c),
            provider=deployment.provider,
        )
        chunks = [c for item in body for c in translator.translate(item)] + translator.finish()
        assert translator.usage is not None
        return translator.usage, chunks, None
    usage = provider.usage_from_body(body)
    completion = None if "embeddings" in body else provider.parse_chat_response(deployment, body)
    return usage, [], completion


@pytest.mark.parametrize("name", PARAMS)
def test_recorded_case(shared_fixtures: Path, name: str) -> None:
    folder = name.split("/")[0]
    case = shared_fixtures / name
    meta = json.loads((case / "meta.json").read_text())
    deployment = _deployment(folder, meta)
    provider = get_provider(deployment.provider)
    if meta["status"] != 200:
        raw = (case / "response.json").read_bytes()
        error = provider.error_from_response(deployment, meta["status"], raw, {})
        assert isinstance(error, APIError) and error.body == json.loads(raw)
        invalid_key = b"API_KEY_INVALID" in raw  # Gemini answers a bad key with 400 INVALID_ARGUMENT
        assert type(error) is (AuthenticationError if invalid_key else error_for_status(meta["status"]))
        return
    usage, chunks, completion = parse_case(case, deployment)
    got = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
    )
    assert got == expected_usage(folder, meta["usage_summary"])
    if chunks:
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == usage.input_tokens
    if completion is not None:
        assert completion["choices"][0]["finish_reason"] in ("stop", "length", "tool_calls", "content_filter")
        assert completion["usage"]["prompt_tokens"] == usage.input_tokens
    cost = compile_price(deployment.provider, deployment.model).cost(usage)
    assert cost.total is not None and cost.total > 0, f"{name}: unpriced ({cost.unpriced_reason})"


def test_every_provider_folder_has_cases(shared_fixtures: Path) -> None:
    for folder in DIRS:
        assert any(name.startswith(f"{folder}/") for name in CASES), f"no cases found for {folder}"
