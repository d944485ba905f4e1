"""Fixtures for the Anthropic / Gemini / Bedrock tests: one simulator per session (real HTTP, free port)
with per-model knobs, and simulator AWS test credentials in the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledgerlm.simulator import Simulator
from ledgerlm.simulator.bedrock import SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY

CACHE_KNOBS = {
    "prompt_tokens": 200,
    "cached_tokens": 100,
    "cache_write_tokens": 50,
    "cache_write_1h_tokens": 20,
}

MODELS: dict[str, dict[str, object]] = {
    "claude-sim-cache": {**CACHE_KNOBS, "content": "Cached hello there."},
    "claude-sim-think": {"reasoning_tokens": 30, "content": "Thought about it."},
    "gemini-sim-think": {
        "prompt_tokens": 40,
        "cached_tokens": 10,
        "reasoning_tokens": 12,
        "content": "Two words.",
    },
    "us.anthropic.claude-sim-v1:0": {**CACHE_KNOBS, "content": "From Bedrock."},
    "anthropic.claude-sim-v1:0": {**CACHE_KNOBS, "content": "From Bedrock invoke."},
}


@pytest.fixture(scope="session")
def psim() -> Iterator[Simulator]:
    """The provider simulator with the knobs of ``MODELS``."""
    with Simulator(models={k: dict(v) for k, v in MODELS.items()}) as simulator:
        yield simulator


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS credentials the simulator verifies SigV4 signatures with; region us-east-1."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SIM_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SIM_SECRET_ACCESS_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
