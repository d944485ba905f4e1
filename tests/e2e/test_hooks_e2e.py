"""Proxy hooks and config callbacks on the real proxy: a pre-call hook rewrites or rejects a request
(400 with its message, failure row), post-call success/failure/streaming hooks run, a success callback
named in the config receives the call, and required tags are enforced. SQLite only (the hooks do not
touch the database)."""

from __future__ import annotations

import http.client
import sys
import urllib.request
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from tests.e2e.conftest import MASTER_KEY

import ledgerlm.callbacks
from ledgerlm.simulator import Simulator

HOOKS_MODULE = "ledgerlm_e2e_hooks_mod"
HOOKS_SOURCE = """
from ledgerlm.callbacks import CustomLogger

EVENTS = []
SUCCESS_CALLS = []


class Hooks(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        EVENTS.append(("pre", call_type, user_api_key_dict.end_user_id))
        if data.get("user") == "banned":
            raise ValueError("user banned by policy")
        if data.get("user") == "rewrite":
            return {**data, "messages": [{"role": "user", "content": "rewritten by hook"}]}
        return None

    async def async_post_call_success_hook(self, data, user_api_key_dict, response):
        EVENTS.append(("success", data.get("user")))
        return {**response, "system_fingerprint": "hooked"}

    async def async_post_call_failure_hook(self, request_data, original_exception, user_api_key_dict):
        EVENTS.append(("failure", type(original_exception).__name__))

    async def async_post_call_streaming_hook(self, user_api_key_dict, response):
        EVENTS.append(("chunk",))
        return None


handler = Hooks()


def on_success(kwargs, response, start_time, end_time):
    SUCCESS_CALLS.append(kwargs["standard_logging_object"]["id"])
"""

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def hooked(proxy_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("hooks")
    (folder / f"{HOOKS_MODULE}.py").write_text(HOOKS_SOURCE, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        proxy = proxy_factory(
            f"sqlite:///{folder}/db.sqlite",
            litellm_settings={
                "callbacks": [f"{HOOKS_MODULE}.handler", "prometheus"],
                "success_callback": [f"{HOOKS_MODULE}.on_success"],
            },
            general_settings={
                "required_tags": ["env:"],
                "store_prompts_in_spend_logs": True,
                "max_request_size_mb": 0.5,
            },
        )
    finally:
        sys.path.remove(str(folder))
    yield proxy, sys.modules[HOOKS_MODULE]
    sys.modules.pop(HOOKS_MODULE, None)


def test_pre_call_hook_rewrites_and_post_hook_changes_response(hooked: Any, simulator: Simulator) -> None:
    proxy, mod = hooked
    mod.EVENTS.clear()
    client = proxy.client()
    reply = client.chat.completions.create(
        model="priced", messages=MESSAGES, user="rewrite", extra_headers={"x-litellm-tags": "env:test"}
    )
    assert reply.system_fingerprint == "hooked"
    assert simulator.requests[-1].json["messages"] == [{"role": "user", "content": "rewritten by hook"}]
    assert mod.EVENTS == [("pre", "completion", "rewrite"), ("success", "rewrite")]


def test_pre_call_hook_rejection_is_400_with_its_message(hooked: Any) -> None:
    proxy, mod = hooked
    mod.EVENTS.clear()
    with pytest.raises(openai.BadRequestError) as info:
        proxy.client().chat.completions.with_raw_response.create(
            model="priced", messages=MESSAGES, user="banned", extra_headers={"x-litellm-tags": "env:test"}
        )
    assert "user banned by policy" in str(info.value)
    assert mod.EVENTS == [("pre", "completion", "banned"), ("failure", "BadRequestError")]
    request_id = info.value.response.headers["x-request-id"]
    proxy.wait_written()
    row = proxy.row(request_id)
    assert row["status"] == "failure" and row["end_user"] == "banned"


def test_streaming_hook_sees_every_chunk(hooked: Any) -> None:
    proxy, mod = hooked
    mod.EVENTS.clear()
    chunks = list(
        proxy.client().chat.completions.create(
            model="priced", messages=MESSAGES, stream=True, extra_body={"tags": ["env:stream"]}
        )
    )
    assert len([e for e in mod.EVENTS if e == ("chunk",)]) == len(chunks) > 1


def test_success_callback_from_config_receives_the_call(hooked: Any) -> None:
    proxy, mod = hooked
    raw = proxy.client().chat.completions.with_raw_response.create(
        model="priced", messages=MESSAGES, extra_body={"metadata": {"tags": ["env:cb"]}}
    )
    assert ledgerlm.callbacks.flush(timeout=10)
    assert raw.headers["x-request-id"] in mod.SUCCESS_CALLS


def test_required_tags(hooked: Any) -> None:
    proxy, _ = hooked
    status, error, headers = proxy.request(
        "POST", "/v1/chat/completions", {"model": "priced", "messages": MESSAGES}
    )
    assert status == 400 and "'env:'" in error["error"]["message"]
    assert (
        proxy.request(
            "POST",
            "/v1/chat/completions",
            {"model": "priced", "messages": MESSAGES},
            headers={"x-litellm-tags": "env:prod"},
        )[0]
        == 200
    )
    proxy.wait_written()
    assert proxy.row(headers["x-request-id"])["status"] == "failure"


def test_unknown_callback_fails_at_start(tmp_path: Path) -> None:
    from ledgerlm.errors import ConfigError
    from ledgerlm.proxy.config import parse_config
    from ledgerlm.proxy.state import build_state

    for name, fragment in [
        ("no_such_exporter_name", "unknown callback"),
        ("nomodule_xyz.attr", "cannot load"),
    ]:
        config = parse_config({"litellm_settings": {"callbacks": [name]}})
        with pytest.raises(ConfigError, match=rf"^litellm_settings\.callbacks\[0\]: .*{fragment}"):
            build_state(config, base_dir=tmp_path)


def test_store_prompts_keeps_messages_and_response(hooked: Any) -> None:
    proxy, _ = hooked
    raw = proxy.client().chat.completions.with_raw_response.create(
        model="priced", messages=[{"role": "user", "content": "keep me"}], extra_body={"tags": ["env:p"]}
    )
    proxy.wait_written()
    row = proxy.row(raw.headers["x-request-id"])
    assert row["messages"] == [{"role": "user", "content": "keep me"}]
    assert row["response"] is not None


def test_body_over_the_limit_is_413(hooked: Any) -> None:
    proxy, _ = hooked
    host, port = proxy.url.removeprefix("http://").split(":")
    for declared in (True, False):  # Content-Length over the limit, then a chunked body over it
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.putrequest("POST", "/v1/chat/completions")
        conn.putheader("authorization", f"Bearer {MASTER_KEY}")
        conn.putheader("content-type", "application/json")
        if declared:
            conn.putheader("content-length", str(600_000))
            conn.endheaders()
        else:
            conn.putheader("transfer-encoding", "chunked")
            conn.endheaders()
            piece = b"x" * 100_000
            for _ in range(6):
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        body = orjson.loads(response.read())
        conn.close()
        assert response.status == 413 and body["error"]["type"] == "request_too_large"


def test_metrics_route_with_the_prometheus_callback(hooked: Any) -> None:
    proxy, _ = hooked
    proxy.client().chat.completions.create(model="priced", messages=MESSAGES, extra_body={"tags": ["env:m"]})
    assert ledgerlm.callbacks.flush(timeout=10)
    request = urllib.request.Request(
        f"{proxy.url}/metrics", headers={"Authorization": f"Bearer {MASTER_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    assert "ledgerlm_spend_writer_queue_depth" in text
    # issue 14: the series name every team's spend, so a caller without the master key is refused
    status, body, _ = proxy.request("GET", "/metrics", key=None)
    assert status == 401 and body["error"]["type"] == "authentication_error"
    virtual = proxy.new_key(metadata={"tags": ["env:m"]})
    status, body, _ = proxy.request("GET", "/metrics", key=virtual)
    assert status == 403 and "ledgerlm_requests_total" not in str(body)
    assert 'ledgerlm_overhead_latency_seconds_count{model_group="priced"' in text
    assert 'ledgerlm_requests_total{model_group="priced"' in text
