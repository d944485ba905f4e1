"""Requests to no route, or with the wrong HTTP method, get OpenAI-format errors (404 / 405), not
Starlette's plain-text pages. Real proxy (uvicorn thread) on SQLite, real HTTP (``urllib``)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread

MASTER = "sk-route-errors-master"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("route-errors")
    config = {
        "model_list": [
            {"model_name": "m", "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "k"}}
        ],
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


def call(url: str, method: str, path: str) -> tuple[int, dict[str, object], dict[str, str]]:
    data = b"{}" if method == "POST" else None
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("authorization", f"Bearer {MASTER}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, orjson.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read()), dict(err.headers)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/v1/no-such-route", 404, "route_not_found"),
        ("GET", "/nothing/here", 404, "route_not_found"),
        ("GET", "/v1/chat/completions", 405, "method_not_allowed"),
        ("DELETE", "/key/generate", 405, "method_not_allowed"),
    ],
)
def test_unknown_route_or_method_is_an_openai_error(
    url: str, method: str, path: str, status: int, code: str
) -> None:
    got, body, headers = call(url, method, path)
    assert got == status
    assert headers["content-type"].startswith("application/json")
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == code and error["param"] is None
    assert path in error["message"] and method in error["message"]
    if status == 405:
        assert "POST" in headers["allow"]


@pytest.mark.parametrize("status", ["maybe", "SUCCESS", "failed"])
def test_spend_logs_status_filter_must_be_known(url: str, status: str) -> None:
    got, body, _ = call(url, "GET", f"/spend/logs/v2?status={status}")
    assert got == 400
    error = body["error"]
    assert isinstance(error, dict) and error["param"] == "status" and status in str(error["message"])


def test_spend_logs_status_filter_accepts_success_and_failure(url: str) -> None:
    for status in ("success", "failure"):
        got, body, _ = call(url, "GET", f"/spend/logs/v2?status={status}")
        assert got == 200 and body["data"] == [], body
