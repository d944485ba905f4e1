"""A caller's ``metadata`` may not impersonate another key, team or user in what callbacks see: LiteLLM's
identity names in ``kwargs["litellm_params"]["metadata"]`` (``user_api_key_team_id`` ...) come from the
authenticated key only. Real proxy in a thread, a real ``CustomLogger`` loaded from the config."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.conftest import Proxy

LOGGER_MODULE = "ledgerlm_security_identity_logger"
LOGGER_SOURCE = """
from ledgerlm.integrations.custom_logger import CustomLogger

SEEN = []


class Identity(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        SEEN.append(dict(kwargs["litellm_params"]["metadata"]))


handler = Identity()
"""
SPOOF = {
    "user_api_key_hash": "spoofed-hash",
    "user_api_key_alias": "spoofed-alias",
    "user_api_key_team_id": "spoofed-team",
    "user_api_key_user_id": "spoofed-user",
    "user_api_key_org_id": "spoofed-org",
    "user_api_key_end_user_id": "spoofed-end-user",
    "requester_ip_address": "6.6.6.6",
    "note": "kept",
}


@pytest.fixture(scope="module")
def logged(proxy_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proxy, Any]]:
    folder = tmp_path_factory.mktemp("identity")
    (folder / f"{LOGGER_MODULE}.py").write_text(LOGGER_SOURCE, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        proxy: Proxy = proxy_factory(
            f"sqlite:///{folder}/db.sqlite", litellm_settings={"callbacks": [f"{LOGGER_MODULE}.handler"]}
        )
    finally:
        sys.path.remove(str(folder))
    yield proxy, sys.modules[LOGGER_MODULE]
    sys.modules.pop(LOGGER_MODULE, None)


def test_client_metadata_cannot_spoof_identity_in_callbacks(logged: tuple[Proxy, Any]) -> None:
    proxy, module = logged
    team = proxy.new_team(team_id="real-team")
    key = proxy.new_key(team_id=team, key_alias="real-alias")
    body = {"model": "priced", "messages": [{"role": "user", "content": "hi"}], "metadata": SPOOF}
    status, answer, _ = proxy.request("POST", "/v1/chat/completions", body, key=key)
    assert status == 200, answer
    deadline = time.monotonic() + 10
    while not module.SEEN and time.monotonic() < deadline:
        time.sleep(0.02)
    seen = module.SEEN[-1]
    assert seen["user_api_key_team_id"] == "real-team" and seen["user_api_key_alias"] == "real-alias"
    assert seen["user_api_key_hash"] != "spoofed-hash" and seen["note"] == "kept"
    # fields the key does not have are absent, not the caller's values
    for name in ("user_api_key_user_id", "user_api_key_org_id", "user_api_key_end_user_id"):
        assert name not in seen, (name, seen)
    assert seen.get("requester_ip_address") != "6.6.6.6"
