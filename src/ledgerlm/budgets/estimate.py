"""Worst-case size and cost of a request, before it is sent.

Input bound: the UTF-8 byte length of the whole JSON request body. Every tokenizer ledgerlm meets is
byte-level BPE or SentencePiece with byte fallback (OpenAI tiktoken, Anthropic, Gemini, Llama), so one
token covers at least one byte of text, and the body's JSON syntax (``{"role":"user","content":""}``,
about 30 bytes a message) exceeds the few tokens of per-message framing a provider adds. What a provider
bills beyond the text is added explicitly: ``image_tokens`` per image or file part (an image URL is a few
bytes but is billed by its pixels: OpenAI high detail, Anthropic about width*height/750, capped near
1,600 tokens, Gemini 258 per tile) and ``tool_overhead_tokens`` when tools are declared (Anthropic adds a
tool-use system prompt of a few hundred tokens). The bound is capped by the model's context window when
known.

Output bound: the request AS SENT upstream when the caller has it (``sent``: the limits the provider
layer's own upstream body implies, ``ledgerlm.providers.as_sent``: ``extra_body`` merged, translations
such as ``reasoning_effort`` -> Anthropic thinking applied, ``n`` / ``best_of`` counted); else the
largest of ``max_completion_tokens`` / ``max_tokens`` / ``max_output_tokens`` in the client body
times the larger of ``n`` / ``best_of``. Without a limit: the model's maximum output tokens; else
``fallback_max_output_tokens`` (then ``output_bounded`` is False and the overshoot bound does not hold).
Reasoning tokens are part of the output and limited by the same fields (OpenAI ``max_completion_tokens``
and Anthropic ``max_tokens`` include them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import orjson

__all__ = [
    "Estimate",
    "EstimateSettings",
    "RequestBounds",
    "SentLimits",
    "estimate_request",
    "worst_case_cost",
]

_OUTPUT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
_IMAGE_PART_TYPES = frozenset({"image_url", "image", "input_image", "file", "input_file", "document"})


class SentLimits(Protocol):
    """The output a request allows as sent upstream (``ledgerlm.providers.as_sent.OutputLimits``)."""

    @property
    def max_output_tokens(self) -> int | None: ...

    @property
    def choices(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RequestBounds:
    """What bounds a request's tokens beside its body: ``body_bytes`` (length of the raw body, when the
    caller has it), ``model_max_output`` (the model's output cap, tokens), ``context_window`` (tokens),
    ``sent`` (the output limits of the body as sent upstream)."""

    body_bytes: int | None = None
    model_max_output: int | None = None
    context_window: int | None = None
    sent: SentLimits | None = None


@dataclass(frozen=True, slots=True)
class EstimateSettings:
    """Allowances in tokens; see the module docstring for why each exists."""

    image_tokens: int = 6000
    tool_overhead_tokens: int = 1024
    fallback_max_output_tokens: int = 16384


@dataclass(frozen=True, slots=True)
class Estimate:
    """Upper bounds for one request: tokens and worst-case cost (USD; ``None`` when unpriced)."""

    input_tokens: int
    output_tokens: int
    output_bounded: bool
    cost: Decimal | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def estimate_request(
    body: Mapping[str, Any],
    *,
    body_bytes: int | None = None,
    model_max_output: int | None = None,
    context_window: int | None = None,
    settings: EstimateSettings | None = None,
    sent: SentLimits | None = None,
) -> Estimate:
    """Token bounds for an OpenAI-format chat or embeddings ``body`` (no cost; see ``worst_case_cost``).

    ``body_bytes``: length of the raw request body when the caller has it (else the body is encoded);
    ``sent``: the output limits of the body as sent upstream (they replace the client body's fields).
    """
    settings = settings or EstimateSettings()
    size = body_bytes if body_bytes is not None else len(orjson.dumps(body, default=str))
    input_tokens = size + settings.image_tokens * _count_media_parts(body)
    if body.get("tools") or body.get("functions"):
        input_tokens += settings.tool_overhead_tokens
    if context_window:
        input_tokens = min(input_tokens, context_window)
    if "messages" not in body and "input" in body and "prompt" not in body:
        return Estimate(input_tokens, 0, True)  # embeddings: no output tokens
    limit, n = (sent.max_output_tokens, max(1, sent.choices)) if sent is not None else _client_limits(body)
    output, bounded = _output_bound(limit, n, model_max_output, settings)
    return Estimate(input_tokens, output, bounded)


def _client_limits(body: Mapping[str, Any]) -> tuple[int | None, int]:
    """(largest output field, largest of ``n`` / ``best_of``) of a client body, ``extra_body`` merged
    over it as the OpenAI provider sends it (``/v1/completions`` with ``extra_body: {"n": 100}``)."""
    extra = body.get("extra_body")
    if isinstance(extra, Mapping):
        body = {**body, **extra}
    limits = [body.get(name) for name in _OUTPUT_FIELDS]
    found = [v for v in limits if isinstance(v, int) and not isinstance(v, bool)]
    if any(v < 1 for v in found):  # a server may read -1 / 0 as "no limit" (providers.as_sent)
        found = []
    choices = [body.get(name) for name in ("n", "best_of")]
    counts = [c for c in choices if isinstance(c, int) and not isinstance(c, bool) and c > 0]
    return (max(found) if found else None), max([1, *counts])


def _output_bound(
    limit: int | None, n: int, model_max_output: int | None, settings: EstimateSettings
) -> tuple[int, bool]:
    if limit is not None:
        if model_max_output:
            limit = min(limit, model_max_output)
        return limit * n, True
    if model_max_output:
        return model_max_output * n, True
    return settings.fallback_max_output_tokens * n, False


def _count_media_parts(body: Mapping[str, Any]) -> int:
    count = 0
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list):
            count += sum(
                1 for part in content if isinstance(part, Mapping) and part.get("type") in _IMAGE_PART_TYPES
            )
    return count


def worst_case_cost(price: Any, estimate: Estimate) -> Decimal | None:
    """Worst-case USD cost of ``estimate`` at ``price`` (a ``CompiledPrice``), or ``None`` if unpriced.

    Uses ``price.max_cost(input_tokens, max_output_tokens)`` (the pricing module's contract: the highest
    cost any split of those tokens can reach, tiers included; ``None`` when unpriced).
    """
    if price is None:
        return None
    max_cost = getattr(price, "max_cost", None)
    if max_cost is None:
        return None
    value = max_cost(estimate.input_tokens, estimate.output_tokens)
    return value if isinstance(value, Decimal) else None
