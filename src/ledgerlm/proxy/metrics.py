"""``GET /metrics`` (Prometheus text format) when ``prometheus`` is among the configured callbacks.

The exporter (``ledgerlm.integrations.prometheus``) records the per-call series from the callbacks; this
module mounts its ASGI app, refreshes the spend-writer gauges (queue depth in rows, spool size in bytes)
at each scrape, and hands the proxy a cheap per-request ``observe_overhead(seconds, ...)``.

The series name every team, key and end user with their spend, so ``/metrics`` requires the master key
by default (``Authorization: Bearer <master key>``: 401 without a valid key, 403 for a virtual key);
``litellm_settings.require_auth_for_metrics_endpoint: false`` (LiteLLM's setting; its default is open,
ours is closed, issue 14) opens it to any caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ledgerlm.proxy.config import ProxyConfig

__all__ = ["OverheadObserver", "metrics_enabled", "metrics_routes", "overhead_observer"]

OverheadObserver = Callable[..., None]


def metrics_enabled(config: ProxyConfig) -> bool:
    """True when ``prometheus`` is named in ``callbacks``, ``success_callback`` or ``failure_callback``."""
    settings = config.litellm_settings
    return "prometheus" in {*settings.callbacks, *settings.success_callback, *settings.failure_callback}


def overhead_observer(config: ProxyConfig) -> OverheadObserver | None:
    """``observe_overhead(seconds, model_group=..., provider=...)`` of the exporter, or None."""
    if not metrics_enabled(config):
        return None
    from ledgerlm.integrations import prometheus

    observe: OverheadObserver = prometheus.observe_overhead
    return observe


class _MetricsEndpoint:
    """ASGI endpoint: refresh the spend gauges from ``state``, then serve the exporter's app."""

    def __init__(self, state: Any) -> None:
        from ledgerlm.integrations import prometheus

        self.prometheus = prometheus
        self.app = prometheus.metrics_app()
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.state.config.litellm_settings.require_auth_for_metrics_endpoint:
            refused = await self._refusal(scope)
            if refused is not None:
                await refused(scope, receive, send)
                return
        writer = self.state.store.writer
        if writer is not None:
            depth = int(writer.queue_depth)
            self.prometheus.set_spend_queue_depth(depth)
            self.prometheus.set_spend_spool_size(depth, int(writer.spool_bytes))
        await self.app(scope, receive, send)

    async def _refusal(self, scope: Scope) -> Response | None:
        """The error response for a caller without the master key, or None when allowed."""
        from ledgerlm.errors import LedgerLMError
        from ledgerlm.proxy.auth import require_admin
        from ledgerlm.proxy.http import error_response

        try:
            require_admin(await self.state.auth.authenticate(Request(scope).headers))
        except LedgerLMError as exc:
            return error_response(exc)
        return None


def metrics_routes(state: Any) -> list[BaseRoute]:
    """``[Route("/metrics")]`` when enabled, else ``[]``."""
    if not metrics_enabled(state.config):
        return []
    return [Route("/metrics", _MetricsEndpoint(state), methods=["GET"])]
