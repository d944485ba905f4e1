"""The official ``openai`` client parses the simulator's payloads (format fidelity with a real client)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from ledgerlm.simulator import Simulator

MSGS = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(models={"gpt-4o-mini": {"cached_tokens": 3, "reasoning_tokens": 2}}) as simulator:
        yield simulator


def test_openai_client_chat_stream_embeddings(sim: Simulator) -> None:
    with openai.OpenAI(base_url=f"{sim.url}/v1", api_key="sk-test", max_retries=0) as client:
        resp = client.chat.completions.create(model="gpt-4o-mini", messages=MSGS)  # type: ignore[arg-type]
        assert resp.choices[0].message.content == "Hello from the ledgerlm simulator. You said: hello"
        assert resp.usage is not None and resp.usage.prompt_tokens_details is not None
        assert resp.usage.prompt_tokens_details.cached_tokens == 3
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=MSGS,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens_details is not None
        assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 2
        emb = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=5)
        assert [len(d.embedding) for d in emb.data] == [5, 5]
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=MSGS,  # type: ignore[arg-type]
                extra_headers={"x-sim": '{"error_status": 429}'},
            )
        assert info.value.code == "rate_limit_exceeded"
        assert info.value.request_id is not None and info.value.request_id.startswith("req_sim_")


def test_azure_client(sim: Simulator) -> None:
    client = openai.AzureOpenAI(azure_endpoint=sim.url, api_key="az", api_version="2024-10-21", max_retries=0)
    with client:
        resp = client.chat.completions.create(model="my-deployment", messages=MSGS)  # type: ignore[arg-type]
    assert resp.choices[0].finish_reason == "stop"
    assert sim.requests[-1].path == "/openai/deployments/my-deployment/chat/completions"


@pytest.mark.parametrize("dimensions", [{"a": 1}, "abc", 0, True, 100_000])
def test_embeddings_bad_dimensions_are_a_400(sim: Simulator, dimensions: object) -> None:
    """``dimensions`` must be an integer in 1..65,536: a dict was a 500, and ``1e308`` made the simulator
    build a vector of that length until the kernel killed it (found by fuzzing the proxy)."""
    with openai.OpenAI(base_url=f"{sim.url}/v1", api_key="sk-test", max_retries=0) as client:
        with pytest.raises(openai.BadRequestError, match="dimensions"):
            client.embeddings.create(
                model="text-embedding-3-small",
                input="a",
                extra_body={"dimensions": dimensions},
            )
        assert client.embeddings.create(model="text-embedding-3-small", input="a", dimensions=3).data
