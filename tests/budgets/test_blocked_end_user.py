"""An end user created with ``blocked: true`` (``POST /customer/new``) is refused with 403 ``blocked``
whichever way the request names it (``user`` field, ``x-litellm-end-user-id`` header); other end users
are served. Real proxy (uvicorn thread) on SQLite, the simulator upstream, real HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread
from ledgerlm.simulator import Simulator

MASTER = "sk-blocked-end-user-master"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("blocked-end-user")
    with Simulator() as sim:
        params = {"model": "openai/gpt-4o-mini", "api_base": f"{sim.url}/v1", "api_key": "k"}
        config = {
            "model_list": [{"model_name": "gpt", "litellm_params": params}],
            "general_settings": {
                "master_key": MASTER,
                "database_url": f"sqlite:///{folder / 'ledger.db'}",
                "spool_dir": str(folder / "spool"),
            },
        }
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        server = ServerThread(create_app(path)).start()
        try:
            yield server.url
        finally:
            server.stop()


def post(url: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url + path, data=orjson.dumps(body), method="POST")
    req.add_header("authorization", f"Bearer {MASTER}")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


def test_blocked_end_user_is_refused_by_body_and_header(url: str) -> None:
    assert post(url, "/customer/new", {"user_id": "blocked-cust", "blocked": True})[0] == 200
    assert post(url, "/customer/new", {"user_id": "good-cust"})[0] == 200
    status, body = post(url, "/v1/chat/completions", {"model": "gpt", "messages": HI, "user": "blocked-cust"})
    assert status == 403 and body["error"]["code"] == "blocked" and "blocked-cust" in body["error"]["message"]
    status, body = post(
        url,
        "/v1/chat/completions",
        {"model": "gpt", "messages": HI},
        headers={"x-litellm-end-user-id": "blocked-cust"},
    )
    assert status == 403 and body["error"]["code"] == "blocked"
    for user in ("good-cust", "unknown-cust"):
        status, body = post(url, "/v1/chat/completions", {"model": "gpt", "messages": HI, "user": user})
        assert status == 200, body
