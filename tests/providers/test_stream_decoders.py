"""Every wire format's stream decoder shares one base (``ledgerlm.providers.stream.StreamDecoder``): the
same ``done`` / chunk / delta counts and the same usage for a stream however it ends.

One case per format: OpenAI chat SSE, Responses-API SSE, Anthropic SSE, Gemini SSE, and the Bedrock
binary event stream (ConverseStream, and InvokeModel with Anthropic events). Each body is replayed
event by event through the decoder the provider table names (``Provider.stream_decoder``):

* complete, it is ``done`` and yields the provider's usage, the same usage the recorded-stream cost path
  (``ledgerlm.usage.usage_from_stream``) reads from the parsed events, never marked estimated;
* cut just before its final usage arrives, it is not ``done`` and yields the base's estimate: the
  prompt estimate and ~4 characters of delta text per output token (at least one per delta), marked
  ``ledgerlm_estimated``; a partial usage the provider already sent (Anthropic's ``message_start``,
  Gemini's running totals) keeps its input and has its output raised to the estimate when lower.

Bodies: the project's simulator (always), and the recorded payloads of ``../shared/fixtures`` (skipped
when that folder is absent).
"""

from __future__ import annotations

import json
import math
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.openai.responses import RESPONSES_FLAG
from ledgerlm.providers.stream import ESTIMATED, StreamDecoder
from ledgerlm.simulator import Simulator
from ledgerlm.types import Usage
from ledgerlm.usage import usage_from_stream
from ledgerlm.usage.recorded import parse_recorded

PROMPT_ESTIMATE = 42
CONTENT = "The quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps again."
MESSAGES = [{"role": "user", "content": "hi"}]


@dataclass(frozen=True)
class Case:
    """One wire format: the provider and deployment that decode it, and where its bodies come from."""

    id: str
    provider: str
    model: str
    path: str  # simulator path
    body: dict[str, Any]
    fixture: str  # ../shared/fixtures/<provider>/<case>/response.*
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        return self.provider == "bedrock"


CASES = [
    Case(
        "openai-chat",
        "openai",
        "m",
        "/v1/chat/completions",
        {"model": "m", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}},
        "openai/chat_stream_include_usage/response.sse",
    ),
    Case(
        "openai-responses",
        "openai",
        "m",
        "/v1/responses",
        {"model": "m", "input": "hi", "stream": True},
        "openai/responses_stream/response.sse",
        extra={RESPONSES_FLAG: True},
    ),
    Case(
        "anthropic",
        "anthropic",
        "m",
        "/v1/messages",
        {"model": "m", "max_tokens": 200, "messages": MESSAGES, "stream": True},
        "anthropic/messages_stream/response.sse",
    ),
    Case(
        "gemini",
        "gemini",
        "m",
        "/v1beta/models/m:streamGenerateContent?alt=sse",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "gemini/stream_sse/response.sse",
    ),
    Case(
        "bedrock-converse",
        "bedrock",
        "m",
        "/model/m/converse-stream",
        {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
        "bedrock/converse_stream/response.eventstream",
    ),
    Case(
        "bedrock-invoke-anthropic",
        "bedrock",
        "invoke/m",
        "/model/m/invoke-with-response-stream",
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "messages": MESSAGES},
        "bedrock/invoke_stream_anthropic/response.eventstream",
    ),
]
IDS = [case.id for case in CASES]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(models={"m": {"content": CONTENT}}) as simulator:
        yield simulator


def _simulated(sim: Simulator, case: Case) -> bytes:
    request = urllib.request.Request(sim.url + case.path, data=json.dumps(case.body).encode(), method="POST")
    for name, value in {
        "content-type": "application/json",
        "authorization": "Bearer k",
        "x-api-key": "k",
        "x-goog-api-key": "k",
    }.items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=10) as response:
        body: bytes = response.read()
    return body


def _pieces(body: bytes, *, binary: bool) -> list[bytes]:
    """The body as whole events: SSE up to each blank line, an event stream frame by frame (each
    frame's first 4 bytes are its total length, big-endian)."""
    if not binary:
        return [p for p in re.split(rb"(?<=\n\n)|(?<=\r\n\r\n)", body) if p]
    pieces, start = [], 0
    while start < len(body):
        end = start + int.from_bytes(body[start : start + 4], "big")
        pieces.append(body[start:end])
        start = end
    return pieces


def _decoder(case: Case) -> StreamDecoder:
    deployment = Deployment(case.provider, case.model, extra=dict(case.extra))
    return get_provider(case.provider).stream_decoder(deployment, caller_wants_usage=True)


def _no_prompt_estimate() -> int:
    raise AssertionError("a stream whose provider sent usage needs no prompt estimate")


@dataclass(frozen=True)
class Seen:
    """The decoder after one more whole event."""

    provider_usage: Usage | None
    recorded: Usage
    done: bool
    chunks: int
    deltas: int
    delta_chars: int


def _replay(case: Case, body: bytes) -> tuple[list[Seen], StreamDecoder]:
    decoder = _decoder(case)
    seen = []
    for piece in _pieces(body, binary=case.binary):
        decoder.decode(piece)
        recorded = decoder.usage_so_far(lambda: PROMPT_ESTIMATE)
        state = (decoder.done, decoder.chunk_count, decoder.delta_count, decoder.delta_chars)
        seen.append(Seen(decoder.usage, recorded, *state))
    decoder.decode(b"")
    return seen, decoder


def _check_complete(case: Case, body: bytes) -> Usage:
    _, decoder = _replay(case, body)
    assert decoder.done
    assert decoder.chunk_count > 0 and decoder.delta_count > 0 and decoder.delta_chars > 0
    usage = decoder.usage_so_far(_no_prompt_estimate)
    assert usage == decoder.usage and ESTIMATED not in usage.raw
    recorded = usage_from_stream(case.provider, parse_recorded(body).events)
    assert usage == recorded and usage.raw == recorded.raw
    assert usage.output_tokens > 0
    return usage


def _check_cut(case: Case, body: bytes) -> Seen:
    full = _check_complete(case, body)
    seen, _ = _replay(case, body)
    cut = [s for s in seen if s.provider_usage != full][-1]  # the last event before the final usage
    assert not cut.done and cut.chunks > 0 and cut.deltas > 0
    estimate = max(cut.deltas, math.ceil(cut.delta_chars / 4))
    if cut.provider_usage is None:
        assert cut.recorded == Usage(input_tokens=PROMPT_ESTIMATE, output_tokens=estimate)
        assert cut.recorded.raw == {ESTIMATED: True}
    else:  # a partial usage: its input, its output raised to the estimate when lower
        raised = cut.provider_usage.output_tokens < estimate
        assert cut.recorded.input_tokens == cut.provider_usage.input_tokens
        assert cut.recorded.output_tokens == max(cut.provider_usage.output_tokens, estimate)
        assert (ESTIMATED in cut.recorded.raw) is raised
    return cut


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_simulated_complete_stream_yields_the_provider_usage(sim: Simulator, case: Case) -> None:
    usage = _check_complete(case, _simulated(sim, case))
    assert usage.output_tokens >= math.ceil(len(CONTENT) / 4)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_simulated_cut_stream_yields_the_same_estimate(sim: Simulator, case: Case) -> None:
    cut = _check_cut(case, _simulated(sim, case))
    assert cut.delta_chars >= len(CONTENT) // 2  # the simulator's usage comes after all the text


@pytest.mark.conformance
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_recorded_streams_complete_and_cut(shared_fixtures: Path, case: Case) -> None:
    body = (shared_fixtures / case.fixture).read_bytes()
    _check_cut(case, body)


def test_the_counts_read_every_shape_of_delta() -> None:
    """OpenAI chunks (content, reasoning, tool calls), Anthropic events, Responses events; a role-only
    chunk or a usage chunk is no delta."""
    decoder = _decoder(CASES[0])
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {"choices": [{"index": 0, "delta": {"content": "abcd"}}, {"index": 1, "delta": {"content": "ef"}}]},
        {"choices": [{"index": 0, "delta": {"reasoning_content": "think"}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": {"name": "f", "arguments": ""}}]}}]},
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "xyz"}},
        {"type": "response.output_text.delta", "delta": "12"},
        {"choices": [], "usage": {"prompt_tokens": 1}},
    ]
    decoder.feed = lambda data: chunks  # type: ignore[method-assign]
    assert decoder.decode(b"x") is chunks
    assert (decoder.chunk_count, decoder.delta_count, decoder.delta_chars) == (7, 6, 4 + 2 + 5 + 1 + 3 + 2)
    assert decoder.output_estimate() == 6  # one token per delta beats ceil(17 / 4) = 5
