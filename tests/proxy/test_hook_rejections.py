"""LiteLLM's proxy hook contract (issue 17 item 6) on ``ProxyHooks``: a pre-call hook that returns a
string rejects the request with that message (400); ``async_moderation_hook`` runs (after the pre-call
hooks, with the rewritten request) and rejects by raising; hooks get a ``KeyContext`` (LiteLLM's
``UserAPIKeyAuth`` field names) and the cache object."""

from __future__ import annotations

from typing import Any

import pytest

from ledgerlm.errors import BadRequestError
from ledgerlm.integrations.custom_logger import CustomLogger
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.hooks import ProxyHooks

SEEN: list[Any] = []


class Policy(CustomLogger):
    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: str
    ) -> Any:
        SEEN.append((user_api_key_dict.api_key, user_api_key_dict.user_id, await cache.async_get_cache("x")))
        if data.get("user") == "blocked":
            return "blocked by policy"
        return {**data, "model": "cheaper-model"}


class Moderation(CustomLogger):
    async def async_moderation_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, call_type: str
    ) -> Any:
        SEEN.append(("moderation", data["model"], call_type))
        if "forbidden" in str(data.get("messages")):
            raise ValueError("content flagged")


KEY = KeyContext(token="h" * 64, user_id="u-1")


async def test_string_rejects_and_dict_replaces() -> None:
    hooks = ProxyHooks([Policy(), Moderation()])
    out = await hooks.pre_call(KEY, {"model": "gpt-4o", "messages": []}, "completion")
    assert out["model"] == "cheaper-model"
    assert SEEN[-2] == ("h" * 64, "u-1", None) and SEEN[-1] == ("moderation", "cheaper-model", "completion")
    with pytest.raises(BadRequestError) as caught:
        await hooks.pre_call(KEY, {"model": "gpt-4o", "messages": [], "user": "blocked"}, "completion")
    assert caught.value.message == "blocked by policy" and caught.value.code == "rejected_by_hook"


async def test_moderation_rejects() -> None:
    hooks = ProxyHooks([Moderation()])
    assert hooks.pre and hooks.moderation
    with pytest.raises(BadRequestError, match="content flagged"):
        await hooks.pre_call(KEY, {"model": "m", "messages": ["forbidden"]}, "completion")
    assert (await hooks.pre_call(KEY, {"model": "m", "messages": ["fine"]}, "completion"))["model"] == "m"
