"""The proxy's budgets from its config: ``build_admission`` (``budget_settings``, LiteLLM's global budget
keys, deployments' ``rpm``/``tpm``) and the multi-worker warning. Proxy glue over ``ledgerlm.budgets``
(which knows nothing of the proxy's config)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.budgets.admission import BudgetAdmission
from ledgerlm.budgets.config import parse_budget_config
from ledgerlm.budgets.types import EntityLimits, EntityRef
from ledgerlm.proxy.config import ProxyConfig
from ledgerlm.proxy.models import _deployment_id

__all__ = ["build_admission", "deployment_limits", "warn_if_unshared"]

log = logging.getLogger("ledgerlm.budgets")


def deployment_limits(config: ProxyConfig) -> dict[str, EntityLimits]:
    """Deployment id -> its ``litellm_params`` ``rpm`` / ``tpm`` limits (only deployments with one)."""
    out: dict[str, EntityLimits] = {}
    for index, entry in enumerate(config.model_list):
        params = entry.litellm_params
        if params.rpm is None and params.tpm is None:
            continue
        ident = _deployment_id(entry, index)
        out[ident] = EntityLimits(EntityRef("deployment", ident), rpm_limit=params.rpm, tpm_limit=params.tpm)
    return out


def build_admission(config: ProxyConfig, engine: Callable[[], AsyncEngine]) -> BudgetAdmission:
    """The proxy's admission from its config (``budget_settings``, LiteLLM global budget keys, Redis).

    Raises ``ConfigError`` naming a bad ``budget_settings`` field."""
    raw = getattr(config, "budget_settings", None) or (config.model_extra or {}).get("budget_settings")
    budget = parse_budget_config(
        raw,
        general=config.general_settings.model_dump(),
        litellm=config.litellm_settings.model_dump(),
    )
    return BudgetAdmission(budget, engine, deployment_limits(config))


def warn_if_unshared(config: ProxyConfig, workers: int) -> bool:
    """Log a warning (and return True) when several worker processes would each keep their own budget
    counters: without Redis, budgets and rate limits hold per process, not for the proxy."""
    if workers <= 1 or config.general_settings.redis_url or os.environ.get("REDIS_URL"):
        return False
    log.warning(
        "%d workers without redis_url: each worker process counts budgets and rate limits on its own, "
        "so together they may admit up to %d times a limit; set general_settings.redis_url",
        workers,
        workers,
    )
    return True
