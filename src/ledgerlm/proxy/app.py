"""The proxy's Starlette app: routes, start-up and shut-down.

``build_app(state)`` returns the ASGI app; ``create_app(config_path)`` loads the config first (used by
``ledgerlm proxy`` and, with ``LEDGERLM_PROXY_CONFIG``, by uvicorn workers through ``app_factory``).

Routes (OpenAI and LiteLLM paths; see ``ledgerlm.proxy.openapi`` for the schemas):
``POST /v1/chat/completions``, ``/chat/completions``, ``/v1/embeddings``, ``/embeddings``;
``GET /v1/models``, ``/models``; ``GET /health/liveliness``, ``/health/readiness``; ``GET /openapi.json``;
``GET /metrics`` (with the ``prometheus`` callback);
key / team / user / customer management (``ledgerlm.proxy.management``); spend (``ledgerlm.proxy.spend_api``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm import transport
from ledgerlm.budgets.contract import start_admission, stop_admission
from ledgerlm.proxy import (
    endpoints,
    entities,
    health_models,
    ledger_routes,
    llm_routes,
    management,
    messages,
    model_info_routes,
    reconcile_routes,
    spend_activity,
    spend_alert_routes,
    spend_api,
    spend_litellm,
    tag_routes,
    ui,
)
from ledgerlm.proxy.config import load_config
from ledgerlm.proxy.endpoints import custom_passthrough
from ledgerlm.proxy.hooks import close_callbacks
from ledgerlm.proxy.http import http_exception_response, json_response
from ledgerlm.proxy.metrics import metrics_routes
from ledgerlm.proxy.openapi import openapi_document
from ledgerlm.proxy.state import ProxyState, build_state
from ledgerlm.proxy.ui.login_limit import close_limiter

__all__ = ["CONFIG_ENV", "app_factory", "build_app", "create_app"]

CONFIG_ENV = "LEDGERLM_PROXY_CONFIG"
NO_MIGRATE_ENV = "LEDGERLM_PROXY_NO_MIGRATE"


async def liveliness(request: Request) -> Response:
    """``GET /health/liveliness``: the process answers."""
    return json_response({"status": "healthy"})


async def readiness(request: Request) -> Response:
    """``GET /health/readiness``: 200 when the database answers, the spool is healthy AND the spend
    writer keeps up (not failing for over ``spend_writer_max_lag_s``), else 503."""
    state: ProxyState = request.app.state.proxy
    db_ok = await state.store.ping()
    spool_ok, reason = state.store.spool_health()
    writer_ok, writer_reason = state.store.writer_health()
    ok = db_ok and spool_ok and writer_ok
    body = {
        "status": "healthy" if ok else "unhealthy",
        "db": "connected" if db_ok else "unreachable",
        "spool": "healthy" if spool_ok else f"unhealthy: {reason}",
        "spend_writer": "healthy" if writer_ok else f"unhealthy: {writer_reason}",
        "spool_bytes": getattr(state.store.writer, "spool_bytes", None),
    }
    return json_response(body, status=200 if ok else 503)


async def openapi(request: Request) -> Response:
    """``GET /openapi.json``."""
    return json_response(openapi_document())


def routes() -> list[Route]:
    """Every route of the proxy."""
    out = [
        Route("/v1/chat/completions", llm_routes.chat_completions, methods=["POST"]),
        Route("/chat/completions", llm_routes.chat_completions, methods=["POST"]),
        Route("/v1/embeddings", llm_routes.embeddings, methods=["POST"]),
        Route("/embeddings", llm_routes.embeddings, methods=["POST"]),
        Route("/v1/models", llm_routes.list_models, methods=["GET"]),
        Route("/models", llm_routes.list_models, methods=["GET"]),
        Route("/health", management.managed()(health_models.health), methods=["GET"]),  # model checks
        Route("/health/liveliness", liveliness, methods=["GET"]),
        Route("/health/readiness", readiness, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    out.extend(messages.routes())  # POST /v1/messages (Anthropic format)
    out.extend(endpoints.routes())  # POST /v1/responses, ... (ledgerlm.proxy.endpoints)
    out.extend(management.routes())
    out.extend(spend_api.routes())  # /spend/logs/v2
    out.extend(spend_litellm.routes())  # LiteLLM's spend shapes
    out.extend(spend_activity.routes())  # /user|team|tag/daily/activity
    out.extend(tag_routes.routes())
    out.extend(reconcile_routes.routes())  # GET /reconcile/runs[/{id}] (issue 18)
    out.extend(ledger_routes.routes())  # POST /period/close, GET /period/list (issue 19)
    out.extend(entities.routes())  # issue 17: orgs, members, users, end users, budgets, keys, service
    out.extend(model_info_routes.routes())  # GET /model/info, /model_group/info (routing health)
    out.extend(ui.routes())  # the dashboard: /ui, /login, /ui/api/* (issue 21)
    out.extend(spend_alert_routes.routes())  # /alerts/* (issue 23)
    return out


def build_app(state: ProxyState) -> Starlette:
    """The ASGI app serving ``state``; the store starts and stops with the app's lifespan."""

    from ledgerlm.proxy.reconcile_job import build_scheduler

    reconcile = build_scheduler(state.config, lambda: state.store.engine)  # daily job (issue 18)
    spend_alert_routes.install(state)  # baseline alerts, throttles, forecasts (issue 23)
    general = state.config.general_settings
    checker = None
    if general.background_health_checks:  # GET /health answers the last background run (LiteLLM's)
        checker = health_models.HealthChecker(state, general.health_check_interval)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await _start_services(state, stack, reconcile, checker)
            yield

    builtin = [*routes(), *metrics_routes(state)]
    custom = custom_passthrough.routes(state.config.general_settings.model_dump(), builtin)
    app = Starlette(
        routes=[*builtin, *custom],  # general_settings.pass_through_endpoints after ledgerlm's own
        lifespan=lifespan,
        exception_handlers={HTTPException: http_exception_response},
    )
    app.state.proxy = state
    app.state.reconcile = reconcile
    app.state.health_checker = checker
    return app


async def _start_services(
    state: ProxyState, stack: contextlib.AsyncExitStack, reconcile: Any, checker: Any
) -> None:
    """Start the app's background services in order; each one's stop is pushed on ``stack`` (run in
    reverse order at shutdown, also when a later start fails)."""
    general = state.config.general_settings
    stack.push_async_callback(transport.close_session)  # the default transport (pass-through routes)
    stack.push_async_callback(state.runtime.aclose)  # this app's transport sessions and callback threads
    stack.push_async_callback(close_callbacks, state.callbacks, state.runtime.workers)
    await state.store.start()
    stack.push_async_callback(state.store.stop)
    stack.push_async_callback(state.alerts.close)
    await ledger_routes.record_deployment_prices(state)  # the price book (issue 19)
    if general.store_model_in_db:  # models added with /model/new, changes seen from other instances
        from ledgerlm.proxy.entities.models_db import ModelSync, load_db_models

        await load_db_models(state, strict=False)
        model_sync = ModelSync(state, general.model_db_poll_interval_s)
        await model_sync.start()
        stack.push_async_callback(model_sync.stop)
    await start_admission(state.admission)
    stack.push_async_callback(stop_admission, state.admission)
    if state.response_cache is not None:
        stack.push_async_callback(state.response_cache.backend.close)
    stack.push_async_callback(state.router.aclose)
    await state.key_events.start()
    stack.push_async_callback(state.key_events.stop)
    stack.push_async_callback(close_limiter, state)  # the /login limit's Redis client, if made
    await reconcile.start()
    stack.push_async_callback(reconcile.stop)
    await spend_alert_routes.start(state)  # budget forecast loop (issue 23)
    stack.push_async_callback(spend_alert_routes.stop, state)
    if checker is not None:
        await checker.start()
        stack.push_async_callback(checker.stop)


def create_app(config_path: str | Path, *, migrate: bool = True) -> Starlette:
    """Load and validate the config (``ConfigError`` on a bad field), then build the app."""
    path = Path(config_path)
    config = load_config(path)
    return build_app(build_state(config, base_dir=path.resolve().parent, migrate=migrate))


def app_factory() -> Starlette:
    """uvicorn ``--factory`` entry for worker processes: config path from ``LEDGERLM_PROXY_CONFIG``."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise RuntimeError(f"{CONFIG_ENV} is not set")
    return create_app(path, migrate=os.environ.get(NO_MIGRATE_ENV) != "1")
