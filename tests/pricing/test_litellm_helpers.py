"""LiteLLM's pricing helpers and import paths (issue 17 item 6): ``completion_cost(completion_response=,
custom_llm_provider=)``, ``cost_per_token``, ``ledgerlm.integrations.custom_logger.CustomLogger``."""

from __future__ import annotations

from decimal import Decimal

import pytest

import ledgerlm
from ledgerlm.types import Usage

BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
}


def test_completion_cost_takes_litellm_keywords() -> None:
    plain = ledgerlm.completion_cost(BODY)
    assert plain.total is not None and plain.total > 0
    assert ledgerlm.completion_cost(completion_response=BODY) == plain
    assert ledgerlm.completion_cost(completion_response=BODY, custom_llm_provider="openai") == plain
    with pytest.raises(TypeError):
        ledgerlm.completion_cost()


def test_cost_per_token_splits_the_same_cost() -> None:
    prompt, completion = ledgerlm.cost_per_token(
        model="gpt-4o-mini", prompt_tokens=1200, completion_tokens=300
    )
    whole = ledgerlm.completion_cost(BODY)
    assert isinstance(prompt, Decimal) and prompt + completion == whole.total
    assert prompt == whole.breakdown["input"] and completion == whole.breakdown["output"]
    from ledgerlm.pricing import compile_price

    anthropic = compile_price("anthropic", "claude-3-5-haiku-20241022").cost(
        Usage(input_tokens=10, output_tokens=4)
    )
    assert sum(ledgerlm.cost_per_token("anthropic/claude-3-5-haiku-20241022", 10, 4)) == anthropic.total
    assert ledgerlm.cost_per_token("claude-3-5-haiku-20241022", 10, 4, custom_llm_provider="anthropic") == (
        ledgerlm.cost_per_token("anthropic/claude-3-5-haiku-20241022", 10, 4)
    )
    with pytest.raises(ValueError, match="no price known"):
        ledgerlm.cost_per_token(model="no-such-model-xyz", prompt_tokens=1)


def test_custom_logger_imports_from_litellms_path() -> None:
    from ledgerlm.integrations.custom_logger import CustomLogger

    assert CustomLogger is ledgerlm.CustomLogger
