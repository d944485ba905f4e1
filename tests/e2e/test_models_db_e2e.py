"""``/model/new|update|delete`` with ``store_model_in_db`` on the real proxy (SQLite and PostgreSQL,
simulator upstream, the official openai client): a model added through the API is served at once,
credentials only as ``os.environ/NAME``, updates and deletes apply at once, a second instance loads the
stored models at start, and without ``store_model_in_db`` the routes answer 400."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import openai
import pytest
from tests.e2e.conftest import SIM_KEY, Proxy

ENV_NAME = "LEDGERLM_E2E_DB_MODEL_KEY"
MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def db_proxy(proxy_factory: Any, database_url: str) -> Proxy:
    os.environ[ENV_NAME] = SIM_KEY  # read when a stored model is built (the test process is the proxy's)
    return proxy_factory(database_url, general_settings={"store_model_in_db": True})


def _body(name: str, **params: Any) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {"model": "openai/sim-db", "api_key": f"os.environ/{ENV_NAME}", **params},
        "model_info": {"id": f"db-{uuid.uuid4().hex[:6]}"},
    }


def test_model_added_through_the_api_is_served(
    db_proxy: Proxy, simulator: Any, proxy_factory: Any, database_url: str
) -> None:
    name = f"db-model-{uuid.uuid4().hex[:6]}"
    body = _body(name, api_base=f"{simulator.url}/v1", input_cost_per_token="0.000001")
    made = db_proxy.ok("POST", "/model/new", body)
    assert made["model_name"] == name and made["model_info"]["id"] == body["model_info"]["id"]
    assert made["litellm_params"]["api_key"] == f"os.environ/{ENV_NAME}"  # the reference, never the value
    client = db_proxy.client()
    assert client.chat.completions.create(model=name, messages=MESSAGES).choices
    assert name in {m.id for m in client.models.list()}
    updated = db_proxy.ok(
        "POST",
        "/model/update",
        {
            "model_info": {"id": made["model_info"]["id"]},
            "litellm_params": {"output_cost_per_token": "0.000002"},
        },
    )
    assert updated["litellm_params"]["output_cost_per_token"] == "0.000002"
    second = proxy_factory(database_url, general_settings={"store_model_in_db": True})
    assert second.client().chat.completions.create(model=name, messages=MESSAGES).choices  # loaded at start
    assert db_proxy.ok("POST", "/model/delete", {"id": made["model_info"]["id"]})["message"].endswith(
        "deleted successfully"
    )
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=name, messages=MESSAGES)


def test_literal_secrets_are_refused(db_proxy: Proxy) -> None:
    body = _body("leaky")
    body["litellm_params"]["api_key"] = "sk-live-1234"
    status, answer, _ = db_proxy.request("POST", "/model/new", body)
    assert status == 400 and answer["error"]["code"] == "secret_not_allowed"
    assert "sk-live-1234" not in str(db_proxy.rows())


def test_without_store_model_in_db_the_routes_refuse(proxy: Proxy) -> None:
    status, answer, _ = proxy.request(
        "POST", "/model/new", {"model_name": "x", "litellm_params": {"model": "openai/x"}}
    )
    assert status == 400 and answer["error"]["code"] == "store_model_in_db_disabled"


def test_model_changes_reach_a_running_instance(
    db_proxy: Proxy, simulator: Any, proxy_factory: Any, database_url: str
) -> None:
    """Two instances sharing the database: ``/model/new|update|delete`` on one reach the other, already
    running, within ``model_db_poll_interval_s`` (no restart)."""
    other = proxy_factory(
        database_url, general_settings={"store_model_in_db": True, "model_db_poll_interval_s": 0.2}
    )
    name = f"db-sync-{uuid.uuid4().hex[:6]}"
    client = other.client()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=name, messages=MESSAGES)
    body = _body(name, api_base=f"{simulator.url}/v1", input_cost_per_token="0.000001")
    model_id = db_proxy.ok("POST", "/model/new", body)["model_info"]["id"]

    def served() -> bool:
        info = other.ok("GET", f"/model/info?litellm_model_id={model_id}")["data"]
        return bool(info) and info[0]["model_name"] == name

    _wait(served)
    assert client.chat.completions.create(model=name, messages=MESSAGES).choices
    db_proxy.ok("POST", "/model/update", {"model_info": {"id": model_id}, "litellm_params": {"rpm": 7}})
    path = f"/model/info?litellm_model_id={model_id}"
    _wait(lambda: other.ok("GET", path)["data"][0]["litellm_params"].get("rpm") == 7)
    db_proxy.ok("POST", "/model/delete", {"id": model_id})
    _wait(lambda: not other.ok("GET", path)["data"])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=name, messages=MESSAGES)


def _wait(check: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the change did not reach the other instance"
        time.sleep(0.1)
