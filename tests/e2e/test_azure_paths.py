"""``openai.AzureOpenAI`` pointed at the proxy unchanged: ``/openai/deployments/{deployment}/...`` with
``api-version`` and the ``api-key`` header, for chat (plain and streamed), embeddings, legacy
completions and images; the path's deployment is the model group; one spend row each, with tags from
the body's ``metadata`` and the same cost as the OpenAI path; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from tests.e2e.conftest import INPUT_PRICE, MASTER_KEY, OUTPUT_PRICE, SIM_KEY, Proxy, model_list

from ledgerlm.simulator import Simulator

MESSAGES: Any = [{"role": "user", "content": "hello azure"}]


@pytest.fixture(scope="module")
def aproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    extra = [
        {
            "model_name": "instruct",
            "litellm_params": {
                "model": "text-completion-openai/sim-priced",
                "api_base": f"{simulator.url}/v1",
                "api_key": SIM_KEY,
                "input_cost_per_token": str(INPUT_PRICE),
                "output_cost_per_token": str(OUTPUT_PRICE),
            },
        },
        {
            "model_name": "dalle",
            "litellm_params": {"model": "azure/dall-e-3", "api_base": simulator.url, "api_key": "az-up"},
        },
    ]
    return proxy_factory(database_url, model_list=model_list(simulator.url) + extra)


@pytest.fixture()
def azure(aproxy: Proxy) -> Iterator[openai.AzureOpenAI]:
    client = openai.AzureOpenAI(
        azure_endpoint=aproxy.url, api_key=MASTER_KEY, api_version="2024-10-21", max_retries=0, timeout=30
    )
    yield client
    client.close()


def test_azure_client_chat_plain_and_stream(aproxy: Proxy, azure: openai.AzureOpenAI) -> None:
    raw = azure.chat.completions.with_raw_response.create(
        model="priced",
        messages=MESSAGES,
        metadata={"tags": ["team:azure"]},  # type: ignore[dict-item]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    aproxy.wait_written()
    row = aproxy.row(raw.headers["x-request-id"])
    assert row["model_group"] == "priced" and row["call_type"] == "acompletion"
    usage = completion.usage
    assert usage is not None
    expected = usage.prompt_tokens * INPUT_PRICE + usage.completion_tokens * OUTPUT_PRICE
    assert row["spend"] == expected == Decimal(raw.headers["x-ledgerlm-response-cost"])
    assert "team:azure" in row["request_tags"]
    chunks = list(azure.chat.completions.create(model="priced", messages=MESSAGES, stream=True))
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == completion.choices[0].message.content
    )
    aproxy.wait_written()
    assert {r["spend"] for r in aproxy.rows(model_group="priced")} == {expected}


def test_azure_client_embeddings_completions_images(aproxy: Proxy, azure: openai.AzureOpenAI) -> None:
    raw = azure.embeddings.with_raw_response.create(model="embed", input=["a", "b"])
    assert len(raw.parse().data) == 2
    aproxy.wait_written()
    assert aproxy.row(raw.headers["x-request-id"])["call_type"] == "aembedding"
    raw_text = azure.completions.with_raw_response.create(model="instruct", prompt="Say hi", max_tokens=5)
    assert raw_text.parse().choices[0].text
    aproxy.wait_written()
    assert aproxy.row(raw_text.headers["x-request-id"])["call_type"] == "atext_completion"
    raw_image = azure.images.with_raw_response.generate(model="dalle", prompt="x", size="1024x1024")
    assert raw_image.parse().data
    aproxy.wait_written()
    row = aproxy.row(raw_image.headers["x-request-id"])
    assert row["call_type"] == "aimage_generation" and row["spend"] == Decimal("0.04")


def test_azure_path_errors(aproxy: Proxy, azure: openai.AzureOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        azure.chat.completions.create(model="no-such-deployment", messages=MESSAGES)
    bad = openai.AzureOpenAI(
        azure_endpoint=aproxy.url, api_key="sk-wrong", api_version="2024-10-21", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="priced", messages=MESSAGES)
    bad.close()
