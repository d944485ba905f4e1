"""Budget-based routing (LiteLLM's "Budget Routing": https://docs.litellm.ai/docs/proxy/provider_budget_routing):
a deployment whose provider, or itself, spent its budget in the current period is not picked.

::

    router_settings:
      provider_budget_config:
        openai: {budget_limit: 100, time_period: 1d}     # USD per period, per provider
    model_list:
      - model_name: gpt-4o
        litellm_params: {model: openai/gpt-4o, max_budget: 10, budget_duration: 1d}   # per deployment

Periods (``time_period`` / ``budget_duration``: ``30s``, ``1h``, ``1d``, ``7d``, ``1mo`` = 30 days)
are fixed windows aligned to the Unix epoch (UTC), so every proxy instance sharing the routing state
(Redis) counts the same window. Spend is what each provider attempt cost (``Router.spent``, fed by the
proxy's attempt ledger: retries and fallbacks included, cache hits never). When every deployment of a
group is over budget the request is refused: 429 ``no_deployments_available``, ``retry_after`` = the
seconds to the next window. Spend keys: ``budget:provider:<name>:<window>`` and
``budget:deployment:<id>:<window>`` in the routing state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerlm.budgets.durations import parse_duration
from ledgerlm.errors import ConfigError, RateLimitError
from ledgerlm.routing.groups import Entry

__all__ = ["Budget", "budget_keys", "over_budget_error", "parse_budget", "provider_budgets"]

_MONTH_S = 30 * 86400


@dataclass(frozen=True, slots=True)
class Budget:
    """``limit`` (USD per period) and ``seconds`` (the period's length)."""

    limit: Decimal
    seconds: float

    def window(self, now: float) -> int:
        """The index of the period holding ``now`` (epoch seconds)."""
        return int(now // self.seconds)

    def left_s(self, now: float) -> float:
        """Seconds until the next period starts."""
        return (self.window(now) + 1) * self.seconds - now


def parse_budget(limit: Any, period: Any, path: str) -> Budget:
    """A ``Budget`` from a USD amount and a duration string. Raises ``ConfigError`` naming ``path``."""
    try:
        amount = Decimal(str(limit))
    except InvalidOperation:
        amount = Decimal(-1)
    if isinstance(limit, bool) or not amount.is_finite() or amount < 0:
        raise ConfigError("must be a non-negative amount of USD", path=path)
    try:
        duration = parse_duration(str(period))
    except ValueError as exc:
        raise ConfigError(str(exc), path=path) from None
    seconds = duration.fixed_seconds or duration.count * _MONTH_S
    return Budget(amount, float(seconds))


def provider_budgets(value: Any) -> dict[str, Budget]:
    """``router_settings.provider_budget_config`` -> provider name -> ``Budget``."""
    if value is None:
        return {}
    path = "router_settings.provider_budget_config"
    if not isinstance(value, Mapping):
        raise ConfigError("must be a mapping provider -> {budget_limit, time_period}", path=path)
    out: dict[str, Budget] = {}
    for provider, item in value.items():
        if not isinstance(item, Mapping) or "budget_limit" not in item or "time_period" not in item:
            raise ConfigError("needs budget_limit and time_period", path=f"{path}.{provider}")
        out[str(provider)] = parse_budget(item["budget_limit"], item["time_period"], f"{path}.{provider}")
    return out


def budget_keys(entry: Entry, providers: Mapping[str, Budget], now: float) -> list[tuple[str, Budget]]:
    """The spend keys (with their budget) that limit ``entry`` now (module docstring)."""
    out = []
    provider = providers.get(entry.deployment.provider)
    if provider is not None:
        out.append((f"budget:provider:{entry.deployment.provider}:{provider.window(now)}", provider))
    if entry.budget is not None:
        out.append((f"budget:deployment:{entry.id}:{entry.budget.window(now)}", entry.budget))
    return out


def over_budget_error(name: str, entries: Sequence[Entry], providers: Mapping[str, Budget]) -> RateLimitError:
    """429 ``no_deployments_available`` when every deployment of ``name`` spent its budget."""
    now = time.time()
    waits = [b.left_s(now) for e in entries for _, b in budget_keys(e, providers, now)]
    wait = min(waits) if waits else 60.0
    return RateLimitError(
        f"No deployments available for selected model {name!r}: every deployment is over its budget "
        f"(provider_budget_config / max_budget); the next period starts in {math.ceil(wait)} seconds",
        code="no_deployments_available",
        retry_after=wait,
    )
