"""The custom pass-through routes (``general_settings.pass_through_endpoints``) run the one call
lifecycle (``ledgerlm.proxy.lifecycle``), on the real proxy against the simulator, SQLite and
PostgreSQL: a pre-call hook refusing the call answers 400 with one failure row and nothing reaches the
target (on an ``auth`` route and on an open one); a client that disconnects mid-stream leaves one
failure row and its admission released (a key with ``max_parallel_requests: 1`` is served again); an
unreachable target is a 502 in OpenAI's error format with one failure row."""

from __future__ import annotations

import http.client
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest
from tests.e2e.conftest import MASTER_KEY, SIM_KEY, Proxy

from ledgerlm.simulator import Simulator

HOOKS_MODULE = "ledgerlm_e2e_custom_pt_hooks"
HOOKS_SOURCE = """
from ledgerlm.callbacks import CustomLogger


class Hooks(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        if data.get("user") == "banned":
            raise ValueError("user banned by policy")
        return None


handler = Hooks()
"""
SLOW = {"prompt_tokens": 10, "completion_tokens": 40, "chunk_interval_ms": 50}
MESSAGES: Any = [{"role": "user", "content": "hi"}]


def _endpoints(sim_url: str) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {SIM_KEY}"}
    return [
        {
            "path": "/pt-chat",
            "target": f"{sim_url}/v1",
            "include_subpath": True,
            "auth": True,
            "headers": auth,
        },
        {"path": "/pt-open", "target": f"{sim_url}/v1", "include_subpath": True, "headers": auth},
        {"path": "/pt-down", "target": "http://127.0.0.1:9/v1", "auth": True},  # nothing listens
        {
            "path": "/pt-slow",
            "target": f"{sim_url}/v1",
            "include_subpath": True,
            "auth": True,
            "cost_per_request": "0.01",
            "headers": {**auth, "x-sim": orjson.dumps(SLOW).decode()},
        },
    ]


@pytest.fixture(scope="module")
def hproxy(
    proxy_factory: Any, database_url: str, simulator: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    folder = tmp_path_factory.mktemp("custom-pt-hooks")
    (folder / f"{HOOKS_MODULE}.py").write_text(HOOKS_SOURCE, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        yield proxy_factory(
            database_url,
            litellm_settings={"callbacks": [f"{HOOKS_MODULE}.handler"]},
            general_settings={"pass_through_endpoints": _endpoints(simulator.url)},
        )
    finally:
        sys.path.remove(str(folder))


def _one_row(proxy: Proxy, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while not proxy.rows(request_id=request_id):
        assert time.monotonic() < deadline, f"no spend row for {request_id}"
        time.sleep(0.05)
    proxy.wait_written()
    return proxy.row(request_id)  # asserts exactly one


def test_a_pre_call_hook_refuses_a_custom_pass_through_call(hproxy: Proxy, simulator: Simulator) -> None:
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "user": "banned"}
    for path, key in (("/pt-chat", MASTER_KEY), ("/pt-open", None)):
        sent = len(simulator.requests)
        status, answer, headers = hproxy.request("POST", f"{path}/chat/completions", body, key=key)
        assert status == 400 and "banned" in answer["error"]["message"], answer
        assert len(simulator.requests) == sent, "a refused call never reaches the target"
        row = _one_row(hproxy, headers["x-request-id"])
        assert row["status"] == "failure" and row["call_type"] == "pass_through_endpoint"
        assert row["model_group"] == path
    client = openai.OpenAI(base_url=f"{hproxy.url}/pt-chat", api_key=MASTER_KEY, max_retries=0, timeout=30)
    try:
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        client.close()
    assert raw.status_code == 200
    assert _one_row(hproxy, raw.headers["x-request-id"])["status"] == "success"


def test_disconnect_mid_custom_stream_releases_the_reservation(hproxy: Proxy) -> None:
    key = hproxy.new_key(max_parallel_requests=1)  # a slot still held refuses the next call
    request_id = f"cpt-gone-{uuid.uuid4().hex[:8]}"
    host, port = hproxy.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
    headers = {
        "authorization": f"Bearer {key}",
        "content-type": "application/json",
        "x-request-id": request_id,
    }
    conn.request("POST", "/pt-slow/chat/completions", body=orjson.dumps(body), headers=headers)
    response = conn.getresponse()
    assert response.status == 200, response.read()
    assert response.read(6) == b"data: "
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    row = _one_row(hproxy, request_id)
    assert row["status"] == "failure" and row["call_type"] == "pass_through_endpoint"
    assert row["model_group"] == "/pt-slow"
    plain = {"model": "gpt-4o-mini", "messages": MESSAGES}
    deadline = time.monotonic() + 5
    while True:
        status, answer, _ = hproxy.request("POST", "/pt-slow/chat/completions", plain, key=key)
        if status == 200:
            break
        assert status == 429 and time.monotonic() < deadline, ("the reservation was not released", answer)
        time.sleep(0.1)


def test_an_unreachable_target_is_a_502_with_a_failure_row(hproxy: Proxy) -> None:
    status, answer, headers = hproxy.request("POST", "/pt-down", {"model": "gpt-4o-mini"})
    assert status == 502 and answer["error"]["message"] and answer["error"]["type"], answer
    row = _one_row(hproxy, headers["x-request-id"])
    assert row["status"] == "failure" and row["call_type"] == "pass_through_endpoint"
    assert row["model_group"] == "/pt-down" and row["api_base"] == "http://127.0.0.1:9/v1"
