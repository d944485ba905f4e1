"""``ProxyState``: everything a request needs, built ONCE from the config at start.

Nothing here is recomputed per request: deployments and compiled prices, the tag resolver, the hook lists,
the callbacks passed to the engine, the key cache, the store link (engine, spool, writer).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledgerlm.budgets.contract import Admission, NoAdmission
from ledgerlm.callbacks.workers import CallbackWorkers
from ledgerlm.proxy.auth import Authenticator, KeyCache
from ledgerlm.proxy.budget_setup import build_admission
from ledgerlm.proxy.config import ProxyConfig
from ledgerlm.proxy.hooks import LoadedCallbacks, ProxyHooks, load_callbacks
from ledgerlm.proxy.key_events import KeyEvents
from ledgerlm.proxy.metrics import OverheadObserver, metrics_enabled, overhead_observer
from ledgerlm.proxy.models import ModelRegistry, build_registry, warn_missing_keys
from ledgerlm.proxy.ops_alerts import OpsAlerts, build_ops_alerts
from ledgerlm.proxy.routing_setup import build_response_cache, build_router
from ledgerlm.proxy.tags import TagResolver
from ledgerlm.runtime import Runtime
from ledgerlm.tags.policy import parse_policies

if TYPE_CHECKING:
    from ledgerlm.proxy.store_link import StoreLink
    from ledgerlm.routing import Router
    from ledgerlm.routing.cache import ResponseCache

__all__ = ["ProxyState", "build_state"]

log = logging.getLogger("ledgerlm.proxy")


@dataclass(slots=True)
class ProxyState:
    """The proxy's long-lived parts. ``store`` is None only in unit tests of the routes."""

    config: ProxyConfig
    registry: ModelRegistry
    auth: Authenticator
    tags: TagResolver
    hooks: ProxyHooks
    callbacks: LoadedCallbacks
    store: StoreLink
    admission: Admission = field(default_factory=NoAdmission)
    num_retries: int = 2
    timeout: float | None = 600.0
    store_prompts: bool = False
    max_body_bytes: int = 10 * 1024 * 1024
    extra: dict[str, Any] = field(default_factory=dict)
    observe_overhead: OverheadObserver | None = None
    reject_when_spool_unhealthy: bool = False
    overhead_split: bool = False
    """``x-ledgerlm-overhead-split`` on LLM responses (``LEDGERLM_OVERHEAD_SPLIT=1``; issue 22)."""
    key_events: KeyEvents = field(default_factory=lambda: KeyEvents(None, "", KeyCache()))
    router: Router = None  # type: ignore[assignment]  # set by build_state (routing_setup)
    response_cache: ResponseCache | None = None  # litellm_settings.cache (routing.cache)
    alerts: OpsAlerts = field(default_factory=lambda: OpsAlerts(None))  # ledger and tag alerts
    runtime: Runtime = field(default_factory=Runtime)
    """This app's transport (its own aiohttp sessions) and callback lists; closed on shutdown."""


def build_state(config: ProxyConfig, *, base_dir: Path | None = None, migrate: bool = True) -> ProxyState:
    """Build the state (no I/O beyond importing callbacks; the store connects in ``store.start()``).

    Raises ``ConfigError`` for a bad model list or callback.
    """
    general = config.general_settings
    settings = config.litellm_settings
    registry = build_registry(config)
    warn_missing_keys(registry)
    callbacks = load_callbacks(
        settings.callbacks,
        settings.success_callback,
        settings.failure_callback,
        settings=config.model_dump(),
        base_dir=base_dir,
    )
    store = _store_link(config, migrate)
    cache = KeyCache(ttl_s=general.key_cache_ttl_s)
    redis_url = general.redis_url or os.environ.get("REDIS_URL") or None
    if general.master_key is None:
        log.warning("no general_settings.master_key: the proxy is OPEN (every caller is admin)")
    admission = build_admission(config, lambda: store.engine)
    alerts = build_ops_alerts(admission, metrics_enabled(config))
    store.on_anomaly = alerts.ledger_row  # the spend writer's flagged and minimal rows (issue 14)
    return ProxyState(
        config=config,
        registry=registry,
        auth=Authenticator(general.master_key, store.lookup_key, cache),
        tags=_tag_resolver(config, alerts),
        hooks=ProxyHooks(callbacks.loggers),
        callbacks=callbacks,
        store=store,
        num_retries=settings.num_retries,
        timeout=settings.request_timeout,
        store_prompts=store.store_prompts,
        max_body_bytes=int(general.max_request_size_mb * 1024 * 1024),
        observe_overhead=overhead_observer(config),
        reject_when_spool_unhealthy=general.reject_when_spool_unhealthy,
        overhead_split=os.environ.get("LEDGERLM_OVERHEAD_SPLIT", "").lower() in ("1", "true", "yes"),
        key_events=KeyEvents(redis_url, config.database_url, cache),
        admission=admission,
        alerts=alerts,
        router=build_router(config, registry),
        response_cache=build_response_cache(config, redis_url),
        runtime=Runtime(workers=CallbackWorkers.own()),  # the app's own callback threads and queues
    )


def _store_link(config: ProxyConfig, migrate: bool) -> StoreLink:
    """The store link of ``config`` (not connected yet)."""
    from ledgerlm.proxy.store_link import StoreLink
    from ledgerlm.store.retention import RetentionPolicy

    general, settings = config.general_settings, config.litellm_settings
    store = StoreLink(
        database_url=config.database_url,
        spool_dir=Path(general.spool_dir),
        store_prompts=general.store_prompts_in_spend_logs and not settings.turn_off_message_logging,
        fsync=general.spool_fsync,
        migrate=migrate,
    )
    store.writer_max_lag_s = general.spend_writer_max_lag_s
    store.retention = RetentionPolicy.from_settings(general.model_dump())  # partitions + retention loop
    return store


def _tag_resolver(config: ProxyConfig, alerts: OpsAlerts) -> TagResolver:
    """Global tag policies: ``litellm_settings.tag_policies``, then ``general_settings.tag_policies``
    per dimension; quarantined tags raise an ops alert."""
    general, settings = config.general_settings, config.litellm_settings
    policies = {**settings.tag_policies, **general.tag_policies}
    tags = TagResolver(settings.extra_spend_tag_headers, general.required_tags, parse_policies(policies))
    tags.on_quarantine = alerts.quarantine
    return tags
