"""LiteLLM's per-call provider settings (``vertex_project``, ``aws_region_name``, AWS credentials...)
configure the call's deployment and are never sent in the request body. Real HTTP against the
in-process simulator (which verifies Bedrock SigV4 signatures made with its test credentials)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ledgerlm
from ledgerlm.simulator import Simulator

HI = [{"role": "user", "content": "Hello"}]
ENV = (
    "VERTEXAI_PROJECT",
    "GOOGLE_CLOUD_PROJECT",
    "VERTEXAI_LOCATION",
    "VERTEXAI_ACCESS_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_BEARER_TOKEN_BEDROCK",
)


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    with Simulator() as simulator:
        yield simulator


def test_vertex_settings_per_call(sim: Simulator) -> None:
    resp = ledgerlm.completion(
        "vertex_ai/gemini-2.5-pro",
        HI,
        api_base=sim.url,
        vertex_project="my-project",
        vertex_location="europe-west4",
        vertex_token="ya29.test-token",
        num_retries=0,
    )
    assert resp.choices[0].message.content
    sent = sim.requests[-1]
    assert "/projects/my-project/locations/europe-west4/" in sent.path
    assert not {"vertex_project", "vertex_location", "vertex_token"} & set(sent.json)


def test_bedrock_settings_per_call(sim: Simulator) -> None:
    resp = ledgerlm.completion(
        "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0",
        HI,
        api_base=sim.url,
        aws_region_name="eu-west-1",
        aws_access_key_id="AKIDLEDGERLMSIM",
        aws_secret_access_key="ledgerlm-simulator-secret",
        num_retries=0,
    )
    assert resp.ledger.usage.output_tokens > 0
    sent = sim.requests[-1]
    assert sent.path.endswith("/converse")
    assert not {"aws_region_name", "aws_access_key_id", "aws_secret_access_key"} & set(sent.json)


def test_settings_do_not_leak_into_the_next_call(sim: Simulator) -> None:
    ledgerlm.completion(
        "vertex_ai/gemini-2.5-pro", HI, api_base=sim.url, vertex_project="p1", vertex_token="t", num_retries=0
    )
    with pytest.raises(ledgerlm.MissingAPIKeyError, match="project"):
        ledgerlm.completion("vertex_ai/gemini-2.5-pro", HI, api_base=sim.url, vertex_token="t", num_retries=0)
