"""Bodies whose values do not fit the upstream provider's format (a number where a list belongs,
embeddings on a chat-only provider, a broken Anthropic body on ``/v1/messages``) get a 400 naming the
problem, never a 500. Real proxy (uvicorn thread) on SQLite, the simulator upstream, real HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

import ledgerlm
from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread
from ledgerlm.simulator import Simulator

MASTER = "sk-translation-errors-master"
USER = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture(scope="module")
def url(sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("translation-errors")
    models = [
        ("claude", {"model": "anthropic/claude-sonnet-4-20250514", "api_base": sim.url}),
        ("gpt", {"model": "openai/gpt-4o-mini", "api_base": f"{sim.url}/v1"}),
    ]
    config = {
        "model_list": [{"model_name": n, "litellm_params": {**p, "api_key": "k"}} for n, p in models],
        "general_settings": {
            "master_key": MASTER,
            "database_url": f"sqlite:///{folder / 'ledger.db'}",
            "spool_dir": str(folder / "spool"),
        },
        "litellm_settings": {"num_retries": 0},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    server = ServerThread(create_app(path)).start()
    try:
        yield server.url
    finally:
        server.stop()


def post(url: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url + path, data=orjson.dumps(body), method="POST")
    req.add_header("authorization", f"Bearer {MASTER}")
    req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


CHAT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("message is a number", {"messages": [1]}, "anthropic format"),
    ("content is a number", {"messages": [{"role": "user", "content": 5}]}, "anthropic format"),
    ("content parts are numbers", {"messages": [{"role": "user", "content": [1]}]}, "anthropic format"),
    ("tools is a string", {"messages": USER, "tools": "x"}, "anthropic format"),
    ("max_tokens is not a number", {"messages": USER, "max_tokens": "many"}, "must be an integer"),
    ("stop is a number, streamed", {"messages": USER, "stop": 5, "stream": True}, "anthropic format"),
]


@pytest.mark.parametrize(("name", "body", "words"), CHAT_CASES, ids=[c[0] for c in CHAT_CASES])
def test_chat_body_that_does_not_fit_anthropic_is_a_400(
    url: str, name: str, body: dict[str, Any], words: str
) -> None:
    status, answer = post(url, "/v1/chat/completions", {"model": "claude", **body})
    assert status == 400, (name, answer)
    assert answer["error"]["type"] == "invalid_request_error"
    assert words in answer["error"]["message"]


def test_embeddings_on_a_chat_only_provider_is_a_400(url: str) -> None:
    status, answer = post(url, "/v1/embeddings", {"model": "claude", "input": "x"})
    assert status == 400, answer
    assert answer["error"]["code"] == "unsupported_call"
    assert "embeddings" in answer["error"]["message"]


def test_broken_anthropic_body_on_messages_is_a_400(url: str) -> None:
    status, answer = post(url, "/v1/messages", {"model": "gpt", "max_tokens": 10, "messages": [1]})
    assert status == 400, answer
    assert answer["type"] == "error" and answer["error"]["type"] == "invalid_request_error"
    assert "Anthropic Messages body" in answer["error"]["message"]


def test_proxy_still_serves_after_bad_bodies(url: str) -> None:
    status, answer = post(url, "/v1/chat/completions", {"model": "claude", "messages": USER})
    assert status == 200, answer
    assert answer["choices"][0]["message"]["content"]


def test_sdk_raises_bad_request_for_a_body_that_does_not_fit(sim: Simulator) -> None:
    with pytest.raises(ledgerlm.BadRequestError, match="anthropic format"):
        ledgerlm.completion(
            "anthropic/claude-sonnet-4-20250514",
            [{"role": "user", "content": 5}],
            api_base=sim.url,
            api_key="k",
            num_retries=0,
        )
