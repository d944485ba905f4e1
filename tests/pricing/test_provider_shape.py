"""An explicit provider whose wire format does not match the recorded body is bad input (exit 2),
never a false $0 from reading zero tokens out of another provider's usage fields."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledgerlm.cli import build_app
from ledgerlm.pricing import NotAResponseError, completion_cost

OPENAI_BODY = {
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
}
ANTHROPIC_BODY = {
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-haiku-20241022",
    "content": [{"type": "text", "text": "hi"}],
    "usage": {"input_tokens": 10, "output_tokens": 5},
}


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "vertex_ai"])
def test_openai_body_with_another_family_is_exit_2(tmp_path: Path, provider: str) -> None:
    path = tmp_path / "body.json"
    path.write_text(json.dumps(OPENAI_BODY))
    result = CliRunner().invoke(build_app(), ["cost", str(path), "--provider", provider])
    assert result.exit_code == 2, result.stdout
    assert "openai" in result.stderr and provider in result.stderr


def test_same_family_is_accepted() -> None:
    cost = completion_cost(OPENAI_BODY, provider="azure", model="gpt-4o-mini")
    # 1200 * 0.15e-6 + 300 * 0.6e-6 USD (the catalog's gpt-4o-mini prices)
    assert cost.total == Decimal("0.00036")


def test_anthropic_body_on_bedrock_is_accepted_and_on_openai_rejected() -> None:
    cost = completion_cost(
        ANTHROPIC_BODY, provider="bedrock", model="anthropic.claude-3-5-haiku-20241022-v1:0"
    )
    assert cost.total is not None and cost.total > 0
    with pytest.raises(NotAResponseError, match="anthropic"):
        completion_cost(ANTHROPIC_BODY, provider="openai")


def test_a_bad_at_names_the_expected_format(tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text(json.dumps(OPENAI_BODY))
    result = CliRunner().invoke(build_app(), ["cost", str(path), "--at", "yesterday"])
    assert result.exit_code == 2 and "ISO-8601" in result.stderr and "yesterday" in result.stderr


def test_prices_show_rejects_an_unknown_provider() -> None:
    result = CliRunner().invoke(build_app(), ["prices", "show", "no-such-provider", "gpt-4o"])
    assert result.exit_code == 2 and "unknown provider 'no-such-provider'" in result.stderr
    ok = CliRunner().invoke(build_app(), ["prices", "show", "openai", "gpt-4o"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["model_ref"] == "openai/gpt-4o"
