"""``ledgerlm.providers.as_sent``: the output limits read from the body each provider really sends."""

from __future__ import annotations

from typing import Any

import pytest

from ledgerlm.providers.as_sent import OutputLimits, output_limits, sent_body
from ledgerlm.providers.base import Deployment

MESSAGES = [{"role": "user", "content": "hi"}]


def _limits(provider: str, model: str, body: dict[str, Any]) -> OutputLimits:
    deployment = Deployment(provider=provider, model=model, api_key="k", api_base="http://127.0.0.1:9")
    sent = sent_body(deployment, {"messages": MESSAGES, **body})
    assert sent is not None
    return output_limits(sent)


@pytest.mark.parametrize(
    ("provider", "model", "body", "expected"),
    [
        ("openai", "gpt-4o", {"max_tokens": 10, "extra_body": {"max_tokens": 900}}, OutputLimits(900, 1)),
        ("openai", "gpt-4o", {"max_tokens": 10, "extra_body": {"n": 4, "best_of": 6}}, OutputLimits(10, 6)),
        ("openai", "gpt-4o", {}, OutputLimits(None, 1)),
        (
            "anthropic",
            "claude-sonnet-4-5",
            {"max_tokens": 10, "reasoning_effort": "low"},
            OutputLimits(5120, 1),
        ),
        ("gemini", "gemini-2.5-flash", {"max_tokens": 10, "n": 3, "reasoning_effort": "low"}, None),
    ],
    ids=["extra_body", "best_of", "no-limit", "anthropic-thinking", "gemini"],
)
def test_limits_of_the_wire_body(
    provider: str, model: str, body: dict[str, Any], expected: OutputLimits | None
) -> None:
    limits = _limits(provider, model, body)
    if expected is not None:
        assert limits == expected
    else:  # Gemini: thinking budget counted beside maxOutputTokens
        assert limits.max_output_tokens is not None and limits.max_output_tokens > 10


def test_wire_fields_of_other_formats() -> None:
    gemini = {
        "generationConfig": {
            "maxOutputTokens": 50,
            "candidateCount": 2,
            "thinkingConfig": {"thinkingBudget": 100},
        }
    }
    assert output_limits(gemini) == OutputLimits(150, 2)
    assert (
        output_limits({"generationConfig": {"thinkingConfig": {"thinkingBudget": -1}}}).max_output_tokens
        is None
    )
    assert output_limits({"inferenceConfig": {"maxTokens": 70}}) == OutputLimits(70, 1)
    # a tool schema naming "n" is content, not a generation setting
    tools = {"max_tokens": 5, "tools": [{"input_schema": {"n": 99}}], "thinking": {"budget_tokens": 64}}
    assert output_limits(tools) == OutputLimits(64, 1)
