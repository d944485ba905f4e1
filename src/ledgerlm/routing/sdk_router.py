"""``ledgerlm.Router``: the SDK face of the one router (LiteLLM's ``litellm.Router``).

::

    router = ledgerlm.Router(
        model_list=[{"model_name": "gpt", "litellm_params": {"model": "openai/gpt-4o-mini", "rpm": 60}},
                    {"model_name": "gpt", "litellm_params": {"model": "azure/gpt4o", "api_base": ...}}],
        routing_strategy="least-busy", num_retries=2, fallbacks=[{"gpt": ["claude"]}],
    )
    resp = await router.acompletion(model="gpt", messages=[...])   # ModelResponse (resp.ledger ...)
    resp = router.completion(model="gpt", messages=[...])

Keyword arguments are ``router_settings`` keys (``ledgerlm.routing.settings``); ``redis_url`` shares the
routing state between processes. Per call: ``fallbacks``, ``context_window_fallbacks``,
``content_policy_fallbacks``, ``num_retries``, ``timeout``, ``disable_fallbacks``, ``metadata``,
``callbacks``. Each attempt is one engine call with its own record and callbacks (the SDK has no
spend ledger of its own); ``resp.ledger.record.metadata["routing"]`` is not set here (the proxy's
ledger adds it). Streaming through the router: ``stream=True`` returns a ``CustomStreamWrapper``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from ledgerlm import engine
from ledgerlm.engine import CallOptions
from ledgerlm.errors import ConfigError, LedgerLMError
from ledgerlm.responses import CustomStreamWrapper, Ledger, ModelResponse
from ledgerlm.router import resolve_deployment
from ledgerlm.routing.filters import deployment_limits
from ledgerlm.routing.groups import Entry, ModelGroups
from ledgerlm.routing.router import Attempt, RequestOptions
from ledgerlm.routing.router import Router as CoreRouter
from ledgerlm.routing.settings import router_settings
from ledgerlm.routing.state import MemoryState, RedisState
from ledgerlm.transport import run_sync
from ledgerlm.types import CallContext

__all__ = ["Router"]

_OPTION_KEYS = (
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "num_retries",
    "timeout",
    "stream_timeout",
    "disable_fallbacks",
    "mock_testing_fallbacks",
)


def _entry(item: Mapping[str, Any], index: int) -> Entry:
    params = dict(item.get("litellm_params") or {})
    info = dict(item.get("model_info") or {})
    name = item.get("model_name")
    if not isinstance(name, str) or not isinstance(params.get("model"), str):
        raise ConfigError("needs model_name and litellm_params.model", path=f"model_list[{index}]")
    try:
        base = resolve_deployment(
            params["model"],
            api_key=params.get("api_key"),
            api_base=params.get("api_base"),
            api_version=params.get("api_version"),
        )
    except LedgerLMError as exc:
        raise ConfigError(exc.message, path=f"model_list[{index}].litellm_params.model") from None
    seed = orjson.dumps([name, index, params["model"], params.get("api_base")])
    deployment = dataclasses.replace(
        base,
        model_group=name,
        deployment_id=str(info.get("id") or hashlib.sha256(seed).hexdigest()[:16]),
        timeout=params.get("timeout"),
        tags=list(params.get("tags") or []),
    )
    return Entry(
        deployment,
        rpm=params.get("rpm"),
        tpm=params.get("tpm"),
        weight=params.get("weight"),
        stream_timeout=params.get("stream_timeout"),
        max_retries=params.get("max_retries"),
        access_groups=list(info.get("access_groups") or []),
        model_info=info,
        model_name=name,
        **deployment_limits(params, f"model_list[{index}].litellm_params"),
    )


class Router:
    """Model groups with strategies, retries, fallbacks and cooldowns for SDK calls (module docstring)."""

    def __init__(self, model_list: list[Mapping[str, Any]], **settings: Any) -> None:
        parsed = router_settings(settings)
        groups = ModelGroups(
            [_entry(item, i) for i, item in enumerate(model_list)],
            parsed.model_group_alias,
            parsed.hidden_aliases,
        )
        state = RedisState(parsed.redis_url) if parsed.redis_url else MemoryState()
        self.router = CoreRouter(groups, parsed, state)

    async def acompletion(self, model: str, messages: list[dict[str, Any]], **params: Any) -> Any:
        """A routed chat completion (``ModelResponse``, or ``CustomStreamWrapper`` with ``stream``)."""
        return await self._acompletion(model, messages, params, sync=False)

    def completion(self, model: str, messages: list[dict[str, Any]], **params: Any) -> Any:
        """The sync form of ``acompletion`` (runs on ledgerlm's background loop)."""
        return run_sync(self._acompletion(model, messages, params, sync=True))

    async def _acompletion(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any], *, sync: bool
    ) -> Any:
        stream = bool(params.pop("stream", False))
        options = RequestOptions(stream=stream, **{k: params.pop(k) for k in _OPTION_KEYS if k in params})
        metadata = dict(params.pop("metadata", None) or {})
        context = CallContext(
            request_id=str(uuid.uuid4()), metadata=metadata, request_tags=list(metadata.get("tags") or [])
        )
        options.tags = list(context.request_tags)  # tag-based routing
        router = self.router
        callbacks = params.pop("callbacks", None)
        body = {"messages": messages, **params}
        call_type = "completion" if sync else "acompletion"

        async def attempt(spec: Attempt) -> Any:
            options = CallOptions(
                context,
                call_type=call_type,
                num_retries=spec.max_retries,
                timeout=spec.timeout,
                callbacks=tuple(callbacks or ()),
                sinks=(lambda r: router.spent(r.deployment_id, r.response_cost),),  # budgets
            )
            if stream:
                return await engine.chat_stream(spec.deployment, {**body, **spec.overrides}, options)
            return await engine.chat(spec.deployment, {**body, **spec.overrides}, options)

        result, _ = await self.router.run(model, attempt, options)
        if stream:
            return CustomStreamWrapper(result, request_id=context.request_id, sync=sync)
        ledger = Ledger(
            usage=result.usage, cost=result.cost, request_id=context.request_id, record=result.record
        )
        return ModelResponse(result.body, ledger)
