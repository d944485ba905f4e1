"""The request body a call sends upstream, decoded: what admission must reserve against.

A client can raise a call's output size or number of choices in many ways that only show once the
provider layer built the upstream request: ``extra_body`` merged over the top-level fields (OpenAI
family), ``n`` / ``best_of``, ``max_completion_tokens`` beside ``max_tokens``, ``reasoning_effort``
translated into an Anthropic ``thinking`` budget that raises ``max_tokens`` (our own translation),
Gemini ``generationConfig`` / Bedrock ``inferenceConfig``, or a native Anthropic body on
``/v1/messages``. ``sent_body`` runs the provider's own ``build_chat_request`` (the exact code the
engine runs next) and returns the JSON body it would send, so a budget estimate reads the request AS
SENT, one function for every endpoint and provider.

``output_limits(sent)`` reads the output bound out of any wire format we speak:

* output-size fields (tokens): ``max_tokens``, ``max_completion_tokens``, ``max_output_tokens``
  (OpenAI, Anthropic), ``maxOutputTokens`` (Gemini ``generationConfig``), ``maxTokens`` (Bedrock
  ``inferenceConfig``), ``max_new_tokens`` / ``max_tokens_to_sample`` (older text APIs); the LARGEST
  one found is taken (a provider that honours another one only spends less);
* choices: ``n``, ``best_of`` (billed for ``best_of`` generations), ``candidateCount`` (Gemini);
  the largest, at least 1;
* thinking budgets: Anthropic ``thinking.budget_tokens`` is part of ``max_tokens`` (bound = the larger);
  Gemini ``thinkingConfig.thinkingBudget`` is counted beside ``maxOutputTokens`` (bound = the sum; a
  negative, "dynamic", budget leaves the output unbounded);
* an output-size field below 1 leaves the output unbounded: OpenAI and Anthropic refuse it, but
  OpenAI-compatible servers read it as "no limit" (llama.cpp ``n_predict``/``max_tokens: -1``), so it
  must never reserve nothing (review of issue 15: ``max_output_tokens: -1`` on ``/v1/responses`` was
  admitted at $0 of output and answered in full).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment

__all__ = ["OutputLimits", "output_limits", "sent_body"]

_OUTPUT_FIELDS = frozenset(
    {
        "max_tokens",
        "max_completion_tokens",
        "max_output_tokens",
        "maxOutputTokens",
        "maxTokens",
        "max_new_tokens",
        "max_tokens_to_sample",
    }
)
_CHOICE_FIELDS = frozenset({"n", "best_of", "candidateCount", "candidate_count"})
_ADDED_THINKING = "thinkingBudget"  # Gemini: thoughts are billed beside maxOutputTokens
_INCLUDED_THINKING = "budget_tokens"  # Anthropic: thinking is part of max_tokens
# parts of a body that carry content, never generation settings: a tool schema may well name "n"
_CONTENT_FIELDS = frozenset(
    {"messages", "contents", "system", "systemInstruction", "system_instruction", "tools", "toolConfig"}
)
_MAX_DEPTH = 3


@dataclass(frozen=True, slots=True)
class OutputLimits:
    """The output a sent body allows: ``max_output_tokens`` per choice (tokens; ``None``: no limit in
    the body, the model's own maximum applies) and ``choices`` (generations billed, >= 1)."""

    max_output_tokens: int | None
    choices: int = 1


def sent_body(
    deployment: Deployment, body: Mapping[str, Any], *, stream: bool = False
) -> dict[str, Any] | None:
    """The JSON body the provider of ``deployment`` sends upstream for the OpenAI-format (or, in native
    mode, provider-format) chat ``body``; ``None`` when it cannot be built here (no API key, a body that
    does not fit the format: the engine then fails the call before anything is sent) or is not JSON."""
    try:
        request = get_provider(deployment.provider).build_chat_request(deployment, body, stream=stream)
        decoded = orjson.loads(request.body)
    except Exception:  # the engine raises the same error before sending: nothing is spent
        return None
    return decoded if isinstance(decoded, dict) else None


def output_limits(sent: Mapping[str, Any]) -> OutputLimits:
    """The output bound of an upstream body in any wire format (see the module docstring)."""
    found: dict[str, list[int]] = {"output": [], "choices": [], "added": [], "included": []}
    _collect(sent, found, 0)
    if any(value < 0 for value in found["added"]) or any(value < 1 for value in found["output"]):
        # Gemini dynamic thinking, or an output field a server may read as "no limit": no bound
        return OutputLimits(None, max(found["choices"], default=1))
    choices = max([1, *found["choices"]])
    if not found["output"]:
        return OutputLimits(None, choices)
    output = max(found["output"])
    output = max([output, *found["included"]]) + sum(found["added"])
    return OutputLimits(output, choices)


def _collect(node: Mapping[str, Any], found: dict[str, list[int]], depth: int) -> None:
    for name, value in node.items():
        if isinstance(value, Mapping):
            if depth < _MAX_DEPTH and name not in _CONTENT_FIELDS:
                _collect(value, found, depth + 1)
            continue
        number = _count(value)
        if number is None:
            continue
        if name in _OUTPUT_FIELDS:
            found["output"].append(number)
        elif name in _CHOICE_FIELDS:
            found["choices"].append(number)
        elif name == _ADDED_THINKING:
            found["added"].append(number)
        elif name == _INCLUDED_THINKING:
            found["included"].append(max(number, 0))


def _count(value: Any) -> int | None:
    """An integer count from a JSON value (``8``, ``8.0``, ``"8"``: providers coerce all of them)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None
