"""Unit tests: the provider registry, model-string rules, presets, request building (no network)."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from ledgerlm import errors
from ledgerlm.providers import get_provider, known_providers, split_model
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.openai import PRESETS
from ledgerlm.providers.openai.azure import DEFAULT_API_VERSION


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("openai/gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("azure/my-deployment", ("azure", "my-deployment")),
        ("openrouter/anthropic/claude-3.5-sonnet", ("openrouter", "anthropic/claude-3.5-sonnet")),
        ("groq/openai/gpt-oss-120b", ("groq", "openai/gpt-oss-120b")),
        ("together_ai/meta-llama/Llama-3-8b", ("together", "meta-llama/Llama-3-8b")),
        ("gpt-4o", ("openai", "gpt-4o")),
        ("o3-mini", ("openai", "o3-mini")),
        ("o1", ("openai", "o1")),
        ("o4-mini", ("openai", "o4-mini")),
        ("chatgpt-4o-latest", ("openai", "chatgpt-4o-latest")),
        ("text-embedding-3-large", ("openai", "text-embedding-3-large")),
        # bare names inferred as LiteLLM infers them (issue 15)
        ("claude-3-5-sonnet", ("anthropic", "claude-3-5-sonnet")),
        ("gemini-2.5-flash", ("gemini", "gemini-2.5-flash")),
        ("dall-e-3", ("openai", "dall-e-3")),
        ("gpt-3.5-turbo-instruct", ("text-completion-openai", "gpt-3.5-turbo-instruct")),
    ],
)
def test_split_model(model: str, expected: tuple[str, str]) -> None:
    assert split_model(model) == expected


@pytest.mark.parametrize("model", ["llama3", "nosuch/model", "openai/", "", "mistral-large"])
def test_split_model_rejects_unknown_or_ambiguous(model: str) -> None:
    with pytest.raises(errors.UnsupportedProviderError) as info:
        split_model(model)
    assert info.value.status_code == 400
    if model:
        assert "openai" in info.value.message and "azure" in info.value.message


def test_registry_is_lazy_and_shared() -> None:
    assert {"openai", "azure", *PRESETS} <= set(known_providers())
    first = get_provider("groq")
    assert first is get_provider("groq")
    assert first.name == "groq"
    with pytest.raises(errors.UnsupportedProviderError, match="known providers"):
        get_provider("nosuch")


@pytest.mark.parametrize(
    ("name", "url", "env"),
    [
        ("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
        ("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
        ("deepseek", "https://api.deepseek.com", "DEEPSEEK_API_KEY"),
        ("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
        ("xai", "https://api.x.ai/v1", "XAI_API_KEY"),
        ("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
        ("together", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
        ("fireworks", "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
    ],
)
def test_presets_default_url_and_key_env(
    monkeypatch: pytest.MonkeyPatch, name: str, url: str, env: str
) -> None:
    provider = get_provider(name)
    for var in (*provider.api_key_env, "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(errors.MissingAPIKeyError, match=env):
        provider.build_chat_request(Deployment(name, "m"), {"messages": []}, stream=False)
    monkeypatch.setenv(env, "secret-from-env")
    request = provider.build_chat_request(Deployment(name, "m"), {"messages": []}, stream=False)
    assert request.url == f"{url}/chat/completions"
    assert request.headers["Authorization"] == "Bearer secret-from-env"


@pytest.mark.parametrize(
    ("name", "url"), [("vllm", "http://localhost:8000/v1"), ("ollama", "http://localhost:11434/v1")]
)
def test_local_presets_need_no_key(monkeypatch: pytest.MonkeyPatch, name: str, url: str) -> None:
    provider = get_provider(name)
    for var in (*provider.api_key_env, f"{name.upper()}_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    request = provider.build_chat_request(Deployment(name, "llama3"), {"messages": []}, stream=False)
    assert request.url == f"{url}/chat/completions"
    assert "Authorization" not in request.headers
    monkeypatch.setenv(f"{name.upper()}_API_BASE", "http://gpu-box:9000/v1/")
    request = provider.build_chat_request(Deployment(name, "llama3"), {"messages": []}, stream=False)
    assert request.url == "http://gpu-box:9000/v1/chat/completions"


def test_chat_body_stream_options_and_client_only_params() -> None:
    provider = get_provider("openai")
    dep = Deployment("openai", "gpt-4o", api_key="sk", api_base="https://proxy.local/v1/")
    params = {
        "messages": [{"role": "user", "content": "x"}],
        "model": "ignored",
        "stream_options": {"include_obfuscation": False},
        "extra_headers": {"X-Trace": "1"},
        "extra_body": {"top_k": 3},
    }
    request = provider.build_chat_request(dep, params, stream=True)
    body = orjson.loads(request.body)
    assert request.url == "https://proxy.local/v1/chat/completions"
    assert body["model"] == "gpt-4o" and body["stream"] is True
    assert body["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert body["top_k"] == 3 and "extra_body" not in body and "extra_headers" not in body
    assert request.headers["X-Trace"] == "1"
    plain = orjson.loads(provider.build_chat_request(dep, {**params, "stream": True}, stream=False).body)
    assert "stream" not in plain and "stream_options" not in plain
    assert params["model"] == "ignored", "the caller's params are not mutated"


def test_azure_request(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT", "AZURE_API_VERSION", "OPENAI_API_VERSION"):
        monkeypatch.delenv(var, raising=False)
    provider = get_provider("azure")
    dep = Deployment("azure", "my dep", api_base="https://res.openai.azure.com/", api_key="az-secret")
    request = provider.build_chat_request(dep, {"messages": []}, stream=False)
    assert request.url == (
        f"https://res.openai.azure.com/openai/deployments/my%20dep/chat/completions?api-version={DEFAULT_API_VERSION}"
    )
    assert request.headers["api-key"] == "az-secret" and "Authorization" not in request.headers
    dep = dataclasses.replace(dep, api_version="2025-01-01-preview")
    emb = provider.build_embedding_request(dep, {"input": "x"})
    assert emb.url.endswith("/openai/deployments/my%20dep/embeddings?api-version=2025-01-01-preview")
    with pytest.raises(errors.BadRequestError, match="AZURE_API_BASE"):
        provider.build_chat_request(Deployment("azure", "d", api_key="k"), {"messages": []}, stream=False)
    monkeypatch.delenv("AZURE_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    with pytest.raises(errors.MissingAPIKeyError, match="AZURE_API_KEY"):
        provider.build_chat_request(
            Deployment("azure", "d", api_base="https://r"), {"messages": []}, stream=False
        )


def test_parse_rejects_non_openai_bodies() -> None:
    provider = get_provider("openai")
    dep = Deployment("openai", "gpt-4o")
    with pytest.raises(errors.APIResponseValidationError, match="choices"):
        provider.parse_chat_response(dep, {"id": "x"})
    with pytest.raises(errors.APIResponseValidationError, match="data"):
        provider.parse_embedding_response(dep, {"object": "list"})
    with pytest.raises(errors.RateLimitError):
        provider.parse_chat_response(dep, {"error": {"message": "slow down", "code": 429}})


def test_usage_from_body_passes_provider_and_tier() -> None:
    provider = get_provider("xai")
    usage = provider.usage_from_body(
        {
            "service_tier": "default",
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "total_tokens": 20,
                "completion_tokens_details": {"reasoning_tokens": 8},
            },
        }
    )
    assert (usage.output_tokens, usage.reasoning_tokens, usage.service_tier) == (10, 8, "default")
    assert get_provider("openai").usage_from_body({"choices": []}).total_tokens == 0


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"stream_options": "yes"}, "stream_options"),
        ({"extra_body": [1]}, "extra_body"),
        ({"extra_headers": "h"}, "extra_headers"),
    ],
)
def test_malformed_call_options_are_bad_requests(params: dict[str, object], param: str) -> None:
    provider = get_provider("openai")
    with pytest.raises(errors.BadRequestError) as info:
        provider.build_chat_request(
            Deployment("openai", "m", api_key="k"), {"messages": [], **params}, stream=True
        )
    assert info.value.param == param
