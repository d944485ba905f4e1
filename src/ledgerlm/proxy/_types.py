"""LiteLLM's ``litellm.proxy._types`` names for code written against it: ``UserAPIKeyAuth`` (what proxy
hooks get as ``user_api_key_dict``) and ``DualCache`` (their ``cache`` argument).

::

    from ledgerlm.proxy._types import UserAPIKeyAuth      # was: from litellm.proxy._types import ...

    async def async_pre_call_hook(self, user_api_key_dict: UserAPIKeyAuth, cache, data, call_type):
        user_api_key_dict.api_key        # the key's SHA-256 hash (never the key itself); also .token
        user_api_key_dict.key_alias, .user_id, .user_role, .user_email, .team_id, .team_alias,
        .team_max_budget, .team_spend, .end_user_id, .org_id, .max_budget, .spend (USD Decimal or None),
        .metadata, .models, .tpm_limit, .rpm_limit, .max_parallel_requests, .budget_duration, .expires

Field names are LiteLLM's (https://docs.litellm.ai/docs/proxy/call_hooks); ``UserAPIKeyAuth(api_key=
"sk-...", user_id=...)`` builds one in tests (a ``sk-`` key is hashed as the proxy stores it).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ledgerlm.proxy.auth import KeyContext, hash_key
from ledgerlm.proxy.hooks import HookCache

__all__ = ["DualCache", "UserAPIKeyAuth"]

DualCache = HookCache
"""The hooks' ``cache`` argument (LiteLLM ``DualCache`` methods: ``get_cache``, ``set_cache``,
``async_get_cache``, ``async_set_cache``, ``delete_cache``, ``async_increment_cache``...)."""


class UserAPIKeyAuth(KeyContext):
    """The caller as proxy hooks see it: a ``KeyContext`` under LiteLLM's class name (module docstring)."""

    __slots__ = ()

    def __init__(self, api_key: str | None = None, token: str | None = None, **fields: Any) -> None:
        if token is None and api_key is not None:
            token = hash_key(api_key) if api_key.startswith("sk-") else api_key
        super().__init__(token, **fields)

    @classmethod
    def from_key(cls, key: KeyContext, **changes: Any) -> UserAPIKeyAuth:
        """A copy of ``key`` with ``changes`` (e.g. this request's ``end_user_id``)."""
        fields = {f.name: getattr(key, f.name) for f in dataclasses.fields(key) if f.init}
        return cls(**{**fields, **changes})
