"""A deployment without an API key is the operator's misconfiguration: the proxy answers 500
(OpenAI error format, ``api_error``) naming the deployment, the model group and the variable to set,
never a secret, and still writes the failure row. Real proxy and official ``openai`` client."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from tests.e2e.conftest import SIM_KEY, Proxy

from ledgerlm.simulator import Simulator

MESSAGES: Any = [{"role": "user", "content": "hello"}]


@pytest.fixture
def keyless(
    proxy_factory: Any, simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Proxy:
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    base = f"{simulator.url}/v1"
    models = [
        {
            "model_name": "keyless",
            "litellm_params": {"model": "deepseek/deepseek-chat", "api_base": base},
            "model_info": {"id": "keyless-dep-1"},
        },
        {
            "model_name": "keyed",
            "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": base, "api_key": SIM_KEY},
        },
    ]
    proxy: Proxy = proxy_factory(f"sqlite:///{tmp_path / 'keyless.db'}", model_list=models)
    return proxy


def test_deployment_without_key_is_a_500_naming_the_variable(keyless: Proxy) -> None:
    key = keyless.new_key(key_alias="keyless-caller")
    client = keyless.client(key)
    for stream in (False, True):
        with pytest.raises(openai.InternalServerError) as caught:
            out = client.chat.completions.create(model="keyless", messages=MESSAGES, stream=stream)
            if stream:
                list(out)
        error = caught.value
        assert error.status_code == 500
        body: Any = error.body
        assert body["type"] == "api_error" and body["code"] == "deployment_missing_api_key"
        message = body["message"]
        assert "DEEPSEEK_API_KEY" in message and "'keyless'" in message and "keyless-dep-1" in message
        assert "pass api_key" not in message and key not in message and SIM_KEY not in message
    assert client.chat.completions.create(model="keyed", messages=MESSAGES).choices  # others still work
    keyless.wait_written()
    rows = keyless.rows(api_key=hashlib.sha256(key.encode()).hexdigest())
    failures = [row for row in rows if row["status"] == "failure"]
    assert len(failures) == 2 and {row["model_group"] for row in failures} == {"keyless"}
    assert all(row["spend"] == Decimal(0) for row in failures)


def test_anthropic_route_answers_500_too(keyless: Proxy) -> None:
    body = {"model": "keyless", "max_tokens": 10, "messages": MESSAGES}
    status, error, _ = keyless.request("POST", "/v1/messages", body)
    assert status == 500, error
    assert "DEEPSEEK_API_KEY" in str(error) and "pass api_key" not in str(error)
