"""The proxy's side of routing for one request: options from the body, model access, the pick, the
routed run with every attempt in the ledger, and the ``x-litellm-*`` routing headers.

Request-body keys read here (LiteLLM's; removed before the body goes upstream): ``fallbacks``,
``context_window_fallbacks``, ``content_policy_fallbacks``, ``num_retries``, ``timeout``,
``stream_timeout``, ``disable_fallbacks``, ``mock_testing_fallbacks``, ``cache`` (response cache
controls, read by ``proxy.cache_call``). A value of the wrong type answers 400 naming it.

Headers (https://docs.litellm.ai/docs/proxy/response_headers): ``x-litellm-model-group``,
``x-litellm-model-id``, ``x-litellm-model-api-base``, ``x-litellm-attempted-retries``,
``x-litellm-attempted-fallbacks``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from ledgerlm.engine.call import CallOptions
from ledgerlm.errors import BadRequestError, PermissionDeniedError
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.record import CallRecord
from ledgerlm.routing import Attempt, Entry, RequestOptions, Router, RunInfo
from ledgerlm.routing.attempts import AttemptLedger

__all__ = ["ROUTING_FIELDS", "RoutedCall", "request_options"]

ROUTING_FIELDS = (
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "num_retries",
    "timeout",
    "stream_timeout",
    "disable_fallbacks",
    "mock_testing_fallbacks",
    "cache",
)

EngineCall = Callable[[Deployment, dict[str, Any], CallOptions], Awaitable[Any]]


def _field(body: dict[str, Any], name: str, types: tuple[type, ...], what: str) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        raise BadRequestError(f"'{name}' must be {what}", param=name, code="invalid_type")
    return value


def request_options(body: dict[str, Any], *, stream: bool) -> RequestOptions:
    """``RequestOptions`` from the body's routing keys (400 for a wrong type)."""
    number = (int, float)
    retries = _field(body, "num_retries", (int,), "a non-negative integer")
    if retries is not None and retries < 0:
        raise BadRequestError("'num_retries' must be a non-negative integer", param="num_retries")
    options = RequestOptions(
        num_retries=retries,
        timeout=_field(body, "timeout", number, "a number of seconds")
        or _field(body, "request_timeout", number, "a number of seconds"),
        stream_timeout=_field(body, "stream_timeout", number, "a number of seconds"),
        disable_fallbacks=bool(_field(body, "disable_fallbacks", (bool,), "a boolean")),
        mock_testing_fallbacks=bool(_field(body, "mock_testing_fallbacks", (bool,), "a boolean")),
        stream=stream,
    )
    for name in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
        setattr(options, name, _field(body, name, (list,), "a list of model names"))
    _field(body, "cache", (dict,), 'an object such as {"no-cache": true}')
    for name in ("timeout", "stream_timeout"):
        value = getattr(options, name)
        if value is not None and value <= 0:
            raise BadRequestError(f"'{name}' must be a positive number of seconds", param=name)
    return options


def _header_value(text: str) -> str:
    """``text`` as an HTTP header value: unchanged when printable ASCII, else percent-encoded (a model
    name is the caller's text and may hold any character)."""
    if text.isascii() and text.isprintable():
        return text
    return quote(text, safe="/:*-._~@+")


class RoutedCall:
    """Routing for one proxied request (module docstring)."""

    def __init__(
        self,
        router: Router,
        key: KeyContext,
        body: dict[str, Any],
        model: str,
        *,
        stream: bool,
        tags: list[str] | None = None,
    ) -> None:
        self.router = router
        self.key = key
        self.model = model
        self.options = request_options(body, stream=stream)
        self.options.tags = list(tags or ())  # tag-based routing (router_settings.enable_tag_filtering)
        self.info: RunInfo | None = None
        self.ledger: AttemptLedger | None = None
        self.first: Entry | None = None

    def allowed(self, model: str) -> bool:
        """Whether the key and its team may use ``model`` (wildcards, access groups, aliases)."""
        groups = self.router.groups
        return groups.allowed(self.key.models, model) and groups.allowed(self.key.team_models, model)

    async def pick(self) -> Deployment:
        """404 for an unknown model, 403 when the key may not use it, else the first deployment."""
        self.router.resolve(self.model)
        if not self.allowed(self.model):
            raise PermissionDeniedError(
                f"this key may not use model {self.model!r}", code="model_not_allowed", param="model"
            )
        self.first = await self.router.pick(self.model, tokens=self.options.tokens, tags=self.options.tags)
        return self.first.deployment

    async def run(
        self,
        upstream: dict[str, Any],
        call: EngineCall,
        base: CallOptions,
        write: Callable[[CallRecord], None],
        write_attempt: Callable[[CallRecord], None],
        on_attempt: Callable[[Deployment], None],
    ) -> Any:
        """``call(deployment, body, options)`` per attempt through ``Router.run`` (``base`` with the
        attempt's retries, timeout and ledger sink)."""
        router = self.router
        ledger = self.ledger = AttemptLedger(
            base.context.request_id,
            write,
            write_attempt,
            lambda r: router.spent(r.deployment_id, r.response_cost),
        )

        async def attempt(spec: Attempt) -> Any:
            on_attempt(spec.deployment)
            options = dataclasses.replace(
                base, num_retries=spec.max_retries, timeout=spec.timeout, sinks=(ledger.next_attempt(),)
            )
            return await call(spec.deployment, {**upstream, **spec.overrides}, options)

        try:
            result, self.info = await self.router.run(
                self.model, attempt, self.options, first=self.first, allowed=self.allowed
            )
        except Exception as exc:
            self.info = getattr(exc, "routing_info", None)
            ledger.finish(self._summary())
            raise
        ledger.finish(self._summary())
        return result

    def _summary(self) -> dict[str, Any]:
        info = self.info or RunInfo()
        return {
            "model_group": info.model_group or self.model,
            "attempts": info.attempts,
            "attempted_retries": info.attempted_retries,
            "attempted_fallbacks": info.attempted_fallbacks,
        }

    def extra_cost(self) -> Decimal:
        """USD of the earlier billable attempts (0 when none)."""
        return self.ledger.extra_cost if self.ledger is not None else Decimal(0)

    def headers(self, deployment: Deployment | None) -> dict[str, str]:
        """The ``x-litellm-*`` routing headers (module docstring)."""
        info = self.info or RunInfo()
        out = {
            "x-litellm-model-group": _header_value(info.model_group or self.model),
            "x-litellm-attempted-retries": str(info.attempted_retries),
            "x-litellm-attempted-fallbacks": str(info.attempted_fallbacks),
        }
        if deployment is not None:
            base = deployment.api_base
            if base is None:
                try:
                    base = get_provider(deployment.provider).default_api_base
                except Exception:
                    base = None
            if base:
                out["x-litellm-model-api-base"] = base
        return out
