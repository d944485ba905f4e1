"""``GET /health``: LiteLLM's model health check. Each deployment is called once with a tiny request and
sorted into healthy and unhealthy endpoints (https://docs.litellm.ai/docs/proxy/health)::

    GET /health[?model=<model group>][&model_id=<deployment id>]
    -> {"healthy_endpoints": [{"model": "openai/gpt-4o-mini", "api_base": ..., "model_name": ...,
                               "model_id": ...}, ...],
        "unhealthy_endpoints": [{..., "error": "<why>"}],
        "healthy_count": int, "unhealthy_count": int,
        "unchecked_endpoints": [{..., "reason": "<why not called>"}]}   # ledgerlm's addition

Entries are the deployment's ``litellm_params`` without ``api_key`` or any other secret. The request by
``model_info.mode``: ``chat`` (default) and ``completion``: one user message, ``max_tokens: 1``;
``embedding``: ``input: ["test from ledgerlm"]``. Modes priced per unit (``image_generation``,
``audio_transcription``, ``audio_speech``, ``rerank``, ``moderation``...) and wildcard deployments
without ``model_info.health_check_model`` (the concrete model to call, e.g. ``openai/gpt-4o-mini`` for
``openai/*``) are not called: they are listed in ``unchecked_endpoints``. ``model_info.health_check_timeout``
(seconds, default 60) bounds each call.

Money: a health check call is never charged to a key, user, team, end user or tag budget (no admission,
no key), and it IS logged: one spend row per call (``metadata.health_check: true``, no ``api_key``), so
the provider's invoice still reconciles with the ledger; it counts toward the global proxy budget.

With ``general_settings.background_health_checks: true`` the checks run every ``health_check_interval``
seconds (default 300) and ``GET /health`` answers the last result (LiteLLM's behaviour) without calling
any provider; before the first run ends it runs one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from typing import Any

from starlette.requests import Request

from ledgerlm import engine
from ledgerlm.engine.call import CallOptions
from ledgerlm.providers import split_model
from ledgerlm.providers.base import Deployment
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.model_info_routes import public_params
from ledgerlm.proxy.state import ProxyState
from ledgerlm.routing import Entry
from ledgerlm.ticker import Ticker
from ledgerlm.types import CallContext

__all__ = ["HealthChecker", "health"]

log = logging.getLogger("ledgerlm.proxy")

HEALTH_MESSAGES = [{"role": "user", "content": "ping"}]
HEALTH_INPUT = ["test from ledgerlm"]
DEFAULT_TIMEOUT_S = 60.0
_CALLED_MODES = frozenset({"chat", "completion", "embedding", "responses"})


def _unchecked_reason(entry: Entry, mode: str) -> str | None:
    if mode not in _CALLED_MODES:
        return f"mode {mode!r} is not health-checked (a check would be billed per unit)"
    if "*" in entry.deployment.model and not entry.model_info.get("health_check_model"):
        return "wildcard deployment: set model_info.health_check_model to the model to call"
    return None


def _target(entry: Entry) -> Deployment:
    """The deployment to call: ``model_info.health_check_model`` replaces a wildcard's model (priced
    from the catalog as that model)."""
    deployment = entry.deployment
    wanted = entry.model_info.get("health_check_model")
    if not wanted:
        return deployment
    provider, model = split_model(str(wanted))
    return dataclasses.replace(deployment, provider=provider, model=model, price=None)  # catalog price


async def check_one(state: ProxyState, entry: Entry) -> tuple[str, dict[str, Any]]:
    """(``healthy`` | ``unhealthy`` | ``unchecked``, the endpoint as shown)."""
    shown = {**public_params(entry), "model_name": entry.model_name, "model_id": entry.id}
    mode = str(entry.model_info.get("mode") or entry.deployment.extra.get("mode") or "chat")
    reason = _unchecked_reason(entry, mode)
    if reason is not None:
        return "unchecked", {**shown, "reason": reason}
    deployment = _target(entry)
    context = CallContext(
        request_id=f"health-{uuid.uuid4().hex}", metadata={"health_check": True}, model_group=entry.model_name
    )
    timeout = float(entry.model_info.get("health_check_timeout") or DEFAULT_TIMEOUT_S)
    options = CallOptions(
        context, num_retries=0, timeout=timeout, sinks=(state.store.append,), runtime=state.runtime
    )
    try:
        async with asyncio.timeout(timeout + 1.0):
            if mode == "embedding":
                body: dict[str, Any] = {"model": deployment.model, "input": HEALTH_INPUT}
                await engine.embed(deployment, body, options)
            else:
                chat: dict[str, Any] = {"model": deployment.model, "messages": HEALTH_MESSAGES}
                await engine.chat(deployment, {**chat, "max_tokens": 1}, options)
    except Exception as exc:  # the deployment's failure is the answer
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return "unhealthy", {**shown, "error": str(message)[:1000]}
    return "healthy", shown


async def run_checks(state: ProxyState, entries: list[Entry]) -> dict[str, Any]:
    """Check ``entries`` concurrently; LiteLLM's response shape (module docstring)."""
    results = await asyncio.gather(*(check_one(state, e) for e in entries))
    out: dict[str, list[dict[str, Any]]] = {"healthy": [], "unhealthy": [], "unchecked": []}
    for verdict, shown in results:
        out[verdict].append(shown)
    return {
        "healthy_endpoints": out["healthy"],
        "unhealthy_endpoints": out["unhealthy"],
        "healthy_count": len(out["healthy"]),
        "unhealthy_count": len(out["unhealthy"]),
        "unchecked_endpoints": out["unchecked"],
    }


def _selected(entries: list[Entry], model: str | None, model_id: str | None) -> list[Entry]:
    return [e for e in entries if (model is None or e.model_name == model) and (model_id in (None, e.id))]


class HealthChecker:
    """Background health checks (``background_health_checks``): ``latest`` is the last full result."""

    def __init__(self, state: ProxyState, interval_s: float) -> None:
        self.state = state
        self.interval_s = interval_s
        self.latest: dict[str, Any] | None = None
        self._ticker = Ticker("health-checks", interval_s, self._check, logger=log)

    async def start(self) -> None:
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()

    async def _check(self) -> None:
        self.latest = await run_checks(self.state, self.state.router.groups.all_entries())


def _filter(result: dict[str, Any], model: str | None, model_id: str | None) -> dict[str, Any]:
    def keep(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            i for i in items if model in (None, i.get("model_name")) and model_id in (None, i.get("model_id"))
        ]

    healthy, unhealthy = keep(result["healthy_endpoints"]), keep(result["unhealthy_endpoints"])
    return {
        "healthy_endpoints": healthy,
        "unhealthy_endpoints": unhealthy,
        "healthy_count": len(healthy),
        "unhealthy_count": len(unhealthy),
        "unchecked_endpoints": keep(result["unchecked_endpoints"]),
    }


async def health(request: Request, state: ProxyState, ctx: KeyContext) -> Any:
    """``GET /health`` (module docstring); admins and admin viewers (the route x role table)."""
    model = request.query_params.get("model")
    model_id = request.query_params.get("model_id")
    checker: HealthChecker | None = getattr(request.app.state, "health_checker", None)
    if checker is not None and checker.latest is not None:
        return _filter(checker.latest, model, model_id)
    return await run_checks(state, _selected(state.router.groups.all_entries(), model, model_id))
