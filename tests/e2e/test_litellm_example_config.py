"""LiteLLM's own example ``proxy_server_config.yaml`` (tests/proxy/fixtures, every api_base pointed at the
simulator) starts, reports each LiteLLM key it does not support in one line, and each of its model groups
answers a call through the official ``openai`` client: chat (OpenAI, Azure, SageMaker, the wildcard
entries called by their literal names), embeddings (Azure, Mistral), images (Azure ``azure/`` with the
model name as deployment, bare ``dall-e-3``), legacy completions (``text-completion-openai``), and
``bad-model``'s ``mock_timeout`` answering the proxy's timeout error; plus the LiteLLM-only request
fields (never forwarded) and ``mock_response``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from tests.e2e.conftest import Proxy

from ledgerlm.errors import APITimeoutError
from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread
from ledgerlm.simulator import Simulator

FIXTURE = Path(__file__).resolve().parents[1] / "proxy" / "fixtures" / "litellm_proxy_server_config.yaml"
MASTER = "sk-1234"  # the example config's master key
ENV = {
    "AZURE_API_KEY": "az-sim",
    "OPENAI_API_KEY": "sk-sim",
    "ANTHROPIC_API_KEY": "sk-ant-sim",
    "GROQ_API_KEY": "gsk-sim",
    "MISTRAL_API_KEY": "mistral-sim",
    "AZURE_API_BASE": "http://127.0.0.1:9",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": "6379",
    "REDIS_PASSWORD": "",
    "AWS_ACCESS_KEY_ID": "AKIDSIM",
    "AWS_SECRET_ACCESS_KEY": "sim-secret",
    **{f"LANGFUSE_PROJECT{n}_{k}": "x" for n in (1, 2) for k in ("PUBLIC", "SECRET")},
}
CHAT_GROUPS = [
    "gpt-3.5-turbo-end-user-test",
    "gpt-3.5-turbo",
    "gpt-3.5-turbo-large",
    "gpt-4",
    "sagemaker-completion-model",
    "fake-openai-endpoint",
    "fake-openai-endpoint-2",
    "fake-openai-endpoint-3",
    "*",
    "anthropic/*",
    "groq/*",
]
MESSAGES: Any = [{"role": "user", "content": "hello from the LiteLLM example config"}]


@pytest.fixture(scope="module")
def example(
    simulator: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, list[str]]]:
    folder = tmp_path_factory.mktemp("litellm-example")
    config = folder / "config.yaml"
    config.write_text(FIXTURE.read_text().replace("{SIM}", simulator.url), encoding="utf-8")
    database_url = f"sqlite:///{folder}/ledgerlm.db"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**ENV, "DATABASE_URL": database_url}.items():
            patch.setenv(name, value)
        patch.chdir(folder)
        records: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
        logging.getLogger("ledgerlm.proxy").addHandler(handler)
        try:
            app = create_app(config)
        finally:
            logging.getLogger("ledgerlm.proxy").removeHandler(handler)
        server = ServerThread(app).start()
        proxy = Proxy(server.url, database_url, app)
        try:
            yield proxy, records
        finally:
            proxy.close()
            server.stop()


def _client(proxy: Proxy) -> openai.OpenAI:
    return proxy.client(MASTER)


def test_starts_and_names_every_unsupported_key(example: tuple[Proxy, list[str]]) -> None:
    _, lines = example
    unsupported = [line for line in lines if line.endswith("is not supported, ignored")]
    for key in (
        "finetune_settings",
        "files_settings",
        "litellm_settings.default_team_settings",
    ):
        assert f"config: {key} is not supported, ignored" in unsupported, key
    assert not [line for line in unsupported if "cost_per_second" in line], "per-second prices are honoured"
    # its pass-through entry claims /v1/rerank, which ledgerlm serves itself (as LiteLLM's own route wins)
    assert any("pass_through_endpoints path /v1/rerank is served by ledgerlm" in line for line in lines)


@pytest.mark.parametrize("group", CHAT_GROUPS)
def test_every_chat_group_answers(example: tuple[Proxy, list[str]], group: str) -> None:
    proxy, _ = example
    raw = _client(proxy).chat.completions.with_raw_response.create(model=group, messages=MESSAGES)
    assert raw.parse().choices[0].message.content
    proxy.wait_written()
    row = proxy.row(raw.headers["x-request-id"])
    assert row["status"] == "success" and row["model_group"] == group
    if group == "sagemaker-completion-model":  # input_cost_per_second: 0.000420 x the call's seconds
        assert row["spend"] is not None and row["spend"] > 0
        meta = row["metadata"] if isinstance(row["metadata"], dict) else json.loads(row["metadata"])
        assert set(meta["cost"]["breakdown"]) == {"second"}


def test_embedding_image_and_completion_groups_answer(example: tuple[Proxy, list[str]]) -> None:
    proxy, _ = example
    client = _client(proxy)
    assert client.embeddings.create(model="text-embedding-ada-002", input="x").data
    assert client.embeddings.create(model="mistral-embed", input="x").data
    assert client.images.generate(model="dall-e-2", prompt="a ledger", size="1024x1024").data
    assert client.images.generate(model="openai-dall-e-3", prompt="a ledger").data
    assert client.completions.create(model="gpt-instruct", prompt="Say hi").choices[0].text


def test_bad_model_mock_timeout_answers_a_timeout(example: tuple[Proxy, list[str]]) -> None:
    proxy, _ = example
    with pytest.raises(openai.APIStatusError) as failed:
        _client(proxy).chat.completions.create(model="bad-model", messages=MESSAGES)
    assert failed.value.status_code == APITimeoutError.status_code  # the proxy's timeout answer
    proxy.wait_written()
    assert proxy.rows(model_group="bad-model")[-1]["status"] == "failure"


def test_litellm_only_fields_are_never_forwarded(
    example: tuple[Proxy, list[str]], simulator: Simulator
) -> None:
    proxy, _ = example
    litellm_only = {
        "fallbacks": ["gpt-4"],
        "num_retries": 1,
        "caching": False,
        "request_timeout": 20,
        "user_config": {"model_list": []},
        "mock_testing_fallbacks": False,
        "metadata": {"tags": ["app:compat"]},
    }
    _client(proxy).chat.completions.create(
        model="fake-openai-endpoint", messages=MESSAGES, extra_body=litellm_only
    )
    sent = simulator.requests[-1].json
    assert not set(litellm_only) & set(sent), sent


def test_mock_response_answers_without_a_provider_call(
    example: tuple[Proxy, list[str]], simulator: Simulator
) -> None:
    proxy, _ = example
    before = len(simulator.requests)
    raw = _client(proxy).chat.completions.with_raw_response.create(
        model="gpt-4", messages=MESSAGES, extra_body={"mock_response": "mocked!"}
    )
    assert raw.parse().choices[0].message.content == "mocked!"
    chunks = list(
        _client(proxy).chat.completions.create(
            model="gpt-4", messages=MESSAGES, stream=True, extra_body={"mock_response": "mocked!"}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "mocked!"
    with pytest.raises(openai.RateLimitError):
        _client(proxy).chat.completions.create(
            model="gpt-4", messages=MESSAGES, extra_body={"mock_response": "litellm.RateLimitError"}
        )
    assert len(simulator.requests) == before, "no provider call"
    proxy.wait_written()
    row = proxy.row(raw.headers["x-request-id"])
    assert row["spend"] == 0 and row["prompt_tokens"] == 0 and row["status"] == "success"
    assert '"mock_response": true' in str(row["metadata"]).replace("True", "true").replace("'", '"')
