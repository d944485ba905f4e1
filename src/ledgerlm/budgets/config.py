"""Budget settings from the proxy config file.

::

    general_settings:
      redis_url: redis://127.0.0.1:6379/0      # or $REDIS_URL; without it counters live in the process
      alerting: ["slack"]                      # LiteLLM: also via the Slack alerter ($SLACK_WEBHOOK_URL)
    litellm_settings:
      max_budget: 100                          # LiteLLM's global proxy budget (USD) ...
      budget_duration: 30d                     # ... and its period
    budget_settings:                           # ledgerlm
      unpriced_models: reject                  # reject (default) | admit (with a warning)
      reservation_lease_s: 600                 # reclaim holds of crashed instances after this (s)
      reservation_estimate: worst_case         # | expected: recent output sizes | none: hold nothing
                                               # (also general_settings.budget_reservation_estimate)
      expected_window: 100                     # expected: the last N calls' output tokens per model ...
      expected_quantile: 0.95                  # ... this quantile of them (p95) ...
      expected_default_tokens: 512             # ... or this before the model's first call
      reset_interval_s: 10                     # how often the reset loop looks for ended periods (s)
      limits_cache_ttl_s: 1                    # how long admission reuses an entity's limits (s)
      image_tokens: 6000                       # input allowance per image / file part (tokens)
      tool_overhead_tokens: 1024               # input allowance when tools are declared (tokens)
      fallback_max_output_tokens: 16384        # output bound when neither request nor model gives one
      redis_prefix: "{ledgerlm}"
      global: {max_budget: 100, budget_duration: 30d, soft_budget: 80}
      tags:                                    # per-tag budgets (stored as registered tags at start)
        team:search: {max_budget: 50, budget_duration: 1d, soft_budget: 40, rpm_limit: 600}
      alerts:
        thresholds: [0.5, 0.8, 1.0]            # fractions of max_budget
        webhook_urls: [https://hooks.example.com/ledgerlm]
        slack_webhook_urls: [os.environ/SLACK_WEBHOOK_URL]   # posted directly, {"text": ...}
        slack_alerter: false                   # true: ledgerlm.integrations.slack.alert(text) as well
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ledgerlm.budgets.alerts import AlertSettings
from ledgerlm.budgets.durations import parse_duration
from ledgerlm.budgets.estimate import EstimateSettings
from ledgerlm.budgets.reservations import BudgetSettings
from ledgerlm.budgets.store_io import GlobalBudget
from ledgerlm.errors import ConfigError

__all__ = ["BudgetConfig", "EntityBudget", "parse_budget_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntityBudget(_Strict):
    """Budget and limits of a config-defined entity (global or a tag); USD, per minute."""

    max_budget: Decimal | None = Field(default=None, ge=0)
    soft_budget: Decimal | None = Field(default=None, ge=0)
    budget_duration: str | None = None
    rpm_limit: int | None = Field(default=None, ge=0)
    tpm_limit: int | None = Field(default=None, ge=0)
    max_parallel_requests: int | None = Field(default=None, ge=0)

    @field_validator("budget_duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class AlertConfig(_Strict):
    thresholds: list[Decimal] = Field(default_factory=lambda: [Decimal("0.5"), Decimal("0.8"), Decimal(1)])
    webhook_urls: list[str] = Field(default_factory=list)
    slack_webhook_urls: list[str] = Field(default_factory=list)
    slack_alerter: bool = False
    timeout_s: float = Field(default=5.0, gt=0)


class BudgetConfig(_Strict):
    """``budget_settings`` (see the module docstring); ``redis_url`` is filled from general settings."""

    unpriced_models: Literal["reject", "admit"] = "reject"
    reservation_lease_s: float = Field(default=600.0, gt=0)
    reset_interval_s: float = Field(default=10.0, gt=0)
    limits_cache_ttl_s: float = Field(default=1.0, ge=0)
    image_tokens: int = Field(default=6000, ge=0)
    tool_overhead_tokens: int = Field(default=1024, ge=0)
    fallback_max_output_tokens: int = Field(default=16384, gt=0)
    redis_prefix: str = "{ledgerlm}"
    reservation_estimate: Literal["worst_case", "expected", "none"] = "worst_case"
    expected_window: int = Field(default=100, ge=1, le=10_000)
    expected_quantile: float = Field(default=0.95, gt=0, le=1)
    expected_default_tokens: int = Field(default=512, ge=0)
    exceeded_status_code: int = Field(
        default=422, ge=400, le=599
    )  # litellm_settings.budget_exceeded_status_code
    redis_url: str | None = None
    # issue 14: deadline of each I/O admission does on the request path (limits lookup, counters), and
    # what a call gets when it passes: fail_closed (503 budgets_unavailable) or fail_open (admitted
    # without a reservation, logged)
    io_timeout_s: float = Field(default=5.0, gt=0)
    on_io_timeout: Literal["fail_closed", "fail_open"] = "fail_closed"
    global_: EntityBudget | None = Field(default=None, alias="global")
    tags: dict[str, EntityBudget] = Field(default_factory=dict)
    alerts: AlertConfig = Field(default_factory=AlertConfig)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def settings(self) -> BudgetSettings:
        """The admission engine's settings."""
        estimate = EstimateSettings(
            self.image_tokens, self.tool_overhead_tokens, self.fallback_max_output_tokens
        )
        return BudgetSettings(
            self.unpriced_models,
            self.reservation_lease_s,
            estimate,
            self.exceeded_status_code,
            self.reservation_estimate,
            self.io_timeout_s,
            self.expected_window,
            self.expected_quantile,
            self.expected_default_tokens,
        )

    def alert_settings(self) -> AlertSettings:
        a = self.alerts
        return AlertSettings(
            tuple(a.thresholds),
            tuple(a.webhook_urls),
            tuple(a.slack_webhook_urls),
            a.timeout_s,
            a.slack_alerter,
        )

    def global_budget(self) -> GlobalBudget | None:
        g = self.global_
        if g is None or (g.max_budget is None and g.soft_budget is None):
            return None
        return GlobalBudget(g.max_budget, g.budget_duration, g.soft_budget)


def parse_budget_config(
    raw_budget: Mapping[str, Any] | None,
    *,
    general: Mapping[str, Any] | None = None,
    litellm: Mapping[str, Any] | None = None,
) -> BudgetConfig:
    """Validate ``budget_settings`` plus the LiteLLM keys it absorbs (global budget, Slack alerting,
    ``redis_url``). Raises ``ConfigError`` whose path names the bad field."""
    data = dict(raw_budget or {})
    general, litellm = general or {}, litellm or {}
    if "global" not in data and litellm.get("max_budget") is not None:
        data["global"] = {
            "max_budget": litellm["max_budget"],
            "budget_duration": litellm.get("budget_duration"),
        }
    if "reservation_estimate" not in data and general.get("budget_reservation_estimate"):
        data["reservation_estimate"] = general["budget_reservation_estimate"]
    if "exceeded_status_code" not in data and litellm.get("budget_exceeded_status_code") is not None:
        data["exceeded_status_code"] = litellm["budget_exceeded_status_code"]
    try:
        config = BudgetConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(p) for p in ("budget_settings", *error["loc"]))
        raise ConfigError(error["msg"], path=path) from None
    config.redis_url = general.get("redis_url") or os.environ.get("REDIS_URL") or None
    if "slack" in (general.get("alerting") or []):
        config.alerts.slack_alerter = True
    return config
