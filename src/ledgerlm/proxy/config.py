"""The proxy config: a LiteLLM ``config.yaml``, validated once at start.

Shape (LiteLLM proxy config keys; https://docs.litellm.ai/docs/proxy/configs)::

    model_list:                       # several entries with one model_name form a model group
      - model_name: gpt-4o            # the public name callers use
        litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY, api_base, api_version,
                         tags: [...], rpm, tpm, timeout, max_retries, input_cost_per_token, ...}
        model_info: {id, base_model, input_cost_per_token, ...}
    general_settings: {master_key, database_url, store_prompts_in_spend_logs, required_tags, spool_dir,
                       redis_url, key_cache_ttl_s, max_request_size_mb}
    litellm_settings: {callbacks, success_callback, failure_callback, extra_spend_tag_headers,
                       turn_off_message_logging, num_retries, request_timeout}

Any string value ``os.environ/NAME`` is replaced by that environment variable (missing: error). Unknown
keys are accepted with one warning each. A bad value raises ``ConfigError`` whose message starts with the
path of the bad field, e.g. ``model_list[1].litellm_params.input_cost_per_token: must be >= 0``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ledgerlm.errors import ConfigError

__all__ = [
    "GeneralSettings",
    "LiteLLMParams",
    "LiteLLMSettings",
    "ModelEntry",
    "ModelInfo",
    "ProxyConfig",
    "format_path",
    "load_config",
    "parse_config",
]

log = logging.getLogger("ledgerlm.proxy")

ENV_PREFIX = "os.environ/"
DEFAULT_DATABASE_URL = "sqlite:///./ledgerlm.db"

# LiteLLM's custom-pricing keys (docs.litellm.ai "Custom pricing"), plus any other key naming a cost.
PRICE_KEY_HINTS: tuple[str, ...] = ("_cost_per_", "cost_per_", "_token_cost", "_cost")


def _is_price_key(key: str) -> bool:
    return any(hint in key for hint in PRICE_KEY_HINTS)


class _Lenient(BaseModel):
    """Base: unknown keys are kept (and reported once by ``_warn_unknown``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class LiteLLMParams(_Lenient):
    """``litellm_params`` of one deployment. Extra keys are provider settings (``aws_region_name``...) or
    custom prices (``input_cost_per_token`` ... in USD per token / per second)."""

    model: str = Field(min_length=1)
    api_key: str | None = None
    api_base: str | None = None
    api_version: str | None = None
    tags: list[str] = Field(default_factory=list)
    rpm: int | None = Field(default=None, ge=0)
    tpm: int | None = Field(default=None, ge=0)
    weight: float | None = Field(default=None, gt=0)
    timeout: float | None = Field(default=None, gt=0)
    stream_timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0)


class ModelInfo(_Lenient):
    """``model_info``: the deployment ``id``, the ``base_model`` used for pricing, custom prices."""

    id: str | None = None
    base_model: str | None = None


class ModelEntry(_Lenient):
    """One ``model_list`` entry: a deployment serving the public ``model_name``."""

    model_name: str = Field(min_length=1)
    litellm_params: LiteLLMParams
    model_info: ModelInfo = Field(default_factory=ModelInfo)


class GeneralSettings(_Lenient):
    """``general_settings``. ``database_url`` defaults to ``$DATABASE_URL`` else ``sqlite:///./ledgerlm.db``;
    ``spool_dir`` (the local spend spool) defaults to ``./ledgerlm-spool``; ``key_cache_ttl_s`` is how long
    a virtual key stays cached (seconds; update/delete on this instance invalidate at once);
    ``reject_when_spool_unhealthy``: answer 503 rather than serve calls whose spend row cannot be spooled."""

    master_key: str | None = None
    database_url: str | None = None
    store_prompts_in_spend_logs: bool = False
    required_tags: list[str] = Field(default_factory=list)
    spool_dir: str = "./ledgerlm-spool"
    spool_fsync: bool = False
    redis_url: str | None = None
    key_cache_ttl_s: float = Field(default=5.0, ge=0)
    max_request_size_mb: float = Field(default=10.0, gt=0)
    reject_when_spool_unhealthy: bool = False
    tag_policies: dict[str, Any] = Field(default_factory=dict)  # ledgerlm.tags.policy (docs/tags.md)
    tag_drift_alert_threshold: float = Field(default=0.2, ge=0, le=1)  # untagged share that alerts
    # issue 14: readiness reports a spend writer failing for longer than this (seconds)
    spend_writer_max_lag_s: float = Field(default=30.0, gt=0)
    store_model_in_db: bool = False  # LiteLLM's: /model/new|update|delete store models in the database
    # what a request holds on its budgets while in flight (budgets/reservations.py; docs/budgets.md):
    # worst_case | expected | none; budget_settings.reservation_estimate is the same setting
    budget_reservation_estimate: Literal["worst_case", "expected", "none"] | None = None
    model_db_poll_interval_s: float = Field(default=10.0, gt=0)  # store_model_in_db: re-read models (s)
    background_health_checks: bool = False  # LiteLLM's: GET /health serves the last background check
    health_check_interval: float = Field(default=300.0, gt=0)  # seconds between background checks
    # LiteLLM's custom pass-through routes (ledgerlm.proxy.passthrough_config), validated at start
    pass_through_endpoints: list[Any] = Field(default_factory=list)
    pass_through_request_timeout: float | None = Field(default=None, gt=0)
    # issue 21, spend log retention (store.retention; docs/dashboard.md): days, or LiteLLM's durations
    spend_log_retention_days: int | None = Field(default=None, ge=1)
    maximum_spend_logs_retention_period: str | int | None = None  # LiteLLM's spelling ("7d", "24h")
    spend_log_prompt_retention_days: int | None = Field(default=None, ge=1)
    spend_log_retention_interval_s: float | None = Field(default=None, ge=60)
    maximum_spend_logs_retention_interval: str | int | None = None  # LiteLLM's spelling ("1d")

    @field_validator("maximum_spend_logs_retention_period", "maximum_spend_logs_retention_interval")
    @classmethod
    def _duration(cls, value: str | int | None) -> str | int | None:
        from ledgerlm.store.retention import duration_days

        duration_days(value)  # ValueError naming the format
        return value

    @field_validator("tag_policies")
    @classmethod
    def _tag_policies(cls, value: dict[str, Any]) -> dict[str, Any]:
        from ledgerlm.tags.policy import parse_policies

        parse_policies(value)  # ValueError naming the bad field
        return value

    @field_validator("required_tags")
    @classmethod
    def _non_empty_prefixes(cls, value: list[str]) -> list[str]:
        for item in value:
            if not item:
                raise ValueError("required tag prefixes must be non-empty strings")
        return value


class LiteLLMSettings(_Lenient):
    """``litellm_settings``: callbacks (names or ``module.attribute``), spend-tag headers, retries (count),
    ``request_timeout`` (seconds)."""

    callbacks: list[str] = Field(default_factory=list)
    success_callback: list[str] = Field(default_factory=list)
    failure_callback: list[str] = Field(default_factory=list)
    extra_spend_tag_headers: list[str] = Field(default_factory=list)
    turn_off_message_logging: bool = False
    num_retries: int = Field(default=2, ge=0)
    request_timeout: float | None = Field(default=600.0, gt=0)
    max_budget: Decimal | None = Field(default=None, ge=0)  # global proxy budget, USD (budgets)
    budget_duration: str | None = None  # its period, e.g. 30d (budgets)
    require_auth_for_metrics_endpoint: bool = True  # /metrics needs the master key (issue 14)
    budget_exceeded_status_code: int = Field(default=422, ge=400, le=599)  # budget refusals (LiteLLM's)
    # global tag policies here too, beside extra_spend_tag_headers (general_settings wins per dimension)
    tag_policies: dict[str, Any] = Field(default_factory=dict)

    @field_validator("callbacks", "success_callback", "failure_callback", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("tag_policies")
    @classmethod
    def _tag_policies(cls, value: dict[str, Any]) -> dict[str, Any]:
        from ledgerlm.tags.policy import parse_policies

        parse_policies(value)  # ValueError naming the bad field
        return value


class ProxyConfig(_Lenient):
    """The whole config file."""

    model_list: list[ModelEntry] = Field(default_factory=list)
    general_settings: GeneralSettings = Field(default_factory=GeneralSettings)
    litellm_settings: LiteLLMSettings = Field(default_factory=LiteLLMSettings)
    router_settings: dict[str, Any] = Field(default_factory=dict)
    environment_variables: dict[str, Any] = Field(default_factory=dict)
    budget_settings: dict[str, Any] = Field(default_factory=dict)  # validated by ledgerlm.budgets.config
    callback_settings: dict[str, Any] = Field(default_factory=dict)  # read by ledgerlm.integrations
    reconcile_settings: dict[str, Any] = Field(default_factory=dict)  # read by proxy.reconcile_job
    spend_alerts: dict[str, Any] = Field(default_factory=dict)  # read by proxy.spend_alert_routes

    @field_validator("general_settings", "litellm_settings", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def database_url(self) -> str:
        """The database URL: config, else ``$DATABASE_URL``, else the SQLite default."""
        return self.general_settings.database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def format_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``('model_list', 1, 'litellm_params', 'x')`` -> ``model_list[1].litellm_params.x``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def resolve_env(value: Any, path: tuple[Any, ...] = (), env: Mapping[str, str] | None = None) -> Any:
    """Replace every ``os.environ/NAME`` string in a YAML tree with ``env[NAME]`` (default: the process
    environment). Raises ``ConfigError`` for a missing variable, naming the field."""
    env = os.environ if env is None else env
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX) :]
        if name not in env:
            raise ConfigError(f"environment variable {name} is not set", path=format_path(path) or None)
        return env[name]
    if isinstance(value, Mapping):
        return {k: resolve_env(v, (*path, k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, (*path, i), env) for i, v in enumerate(value)]
    return value


def _environment(data: Mapping[str, Any]) -> Mapping[str, str]:
    """The process environment overlaid with the config's ``environment_variables`` (LiteLLM sets them
    before reading the rest; here they are only used to resolve references: the process environment is
    never written)."""
    extra = data.get("environment_variables")
    if not extra:
        return os.environ
    if not isinstance(extra, Mapping):
        raise ConfigError("must be a mapping of NAME: value", path="environment_variables")
    return {**os.environ, **{str(k): str(v) for k, v in extra.items() if v is not None}}


def _check_prices(entry: Mapping[str, Any], path: str) -> None:
    """Custom price keys must be numbers >= 0 (USD per token / second / request)."""
    for key, value in entry.items():
        if not isinstance(key, str) or not _is_price_key(key) or value is None:
            continue
        if isinstance(value, bool):
            raise ConfigError("must be a number (USD)", path=f"{path}.{key}")
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise ConfigError("must be a number (USD)", path=f"{path}.{key}") from None
        if not amount.is_finite():
            raise ConfigError("must be a finite number (USD)", path=f"{path}.{key}")
        if amount < 0:
            raise ConfigError("must be >= 0", path=f"{path}.{key}")


def _pydantic_error(exc: ValidationError) -> ConfigError:
    errors = exc.errors()
    first = errors[0]
    message = str(first.get("msg", "invalid value"))
    more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return ConfigError(message + more, path=format_path(first.get("loc", ())) or None)


_KNOWN_SECTIONS = {
    "general_settings": GeneralSettings,
    "litellm_settings": LiteLLMSettings,
}


def _warn_unknown(config: ProxyConfig) -> None:
    """One warning per LiteLLM key ledgerlm does not support ("not supported, ignored",
    ``ledgerlm.proxy.config_compat``) and per unknown key (top level and the two settings sections)."""
    from ledgerlm.proxy.config_compat import is_known_unsupported, warn_unsupported

    warn_unsupported(config)
    for key in sorted(config.model_extra or {}):
        if not is_known_unsupported("", key):
            log.warning("config: unknown key %r accepted and ignored", key)
    for section in _KNOWN_SECTIONS:
        model = getattr(config, section)
        for key in sorted(model.model_extra or {}):
            if not is_known_unsupported(section, key):
                log.warning("config: unknown key %s.%s accepted and ignored", section, key)


def parse_config(data: Mapping[str, Any] | None) -> ProxyConfig:
    """Validate a parsed YAML mapping (``os.environ/`` references resolved here). Raises ``ConfigError``."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError("the config must be a YAML mapping")
    resolved = resolve_env(data, env=_environment(data))
    for index, entry in enumerate(resolved.get("model_list") or []):
        if isinstance(entry, Mapping):
            for part in ("litellm_params", "model_info"):
                section = entry.get(part)
                if isinstance(section, Mapping):
                    _check_prices(section, f"model_list[{index}].{part}")
    try:
        config = ProxyConfig.model_validate(resolved)
    except ValidationError as exc:
        raise _pydantic_error(exc) from None
    _warn_unknown(config)
    return config


def load_config(path: str | Path) -> ProxyConfig:
    """Read and validate a YAML config file. Raises ``ConfigError`` (unreadable file, bad YAML, bad field)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML in {path}: {exc}") from None
    return parse_config(data)
