"""LiteLLM config compatibility: which LiteLLM config keys ledgerlm honours, and the one start-up line
for each key it does not ("not supported, ignored"). The README's config table is this module's.

Sources: LiteLLM's "All settings" page (https://docs.litellm.ai/docs/proxy/config_settings) and its
example ``proxy_server_config.yaml``. ``router_settings`` belongs to the router (its own page) and is
not reported here.

Deployment keys honoured (``model_list[].litellm_params`` / ``model_info``): ``model``, ``api_key``,
``api_base``, ``api_version``, ``tags``, ``rpm``, ``tpm``, ``weight``, ``timeout`` (seconds, whole
call), ``stream_timeout`` (seconds to the first byte and between chunks of a stream),
``max_retries`` / ``num_retries``, ``region_name`` (kept on the deployment, used as the AWS region for
Bedrock / SageMaker), custom prices, provider settings (``aws_*``, ``vertex_*``), ``mock_response`` /
``mock_timeout`` (LiteLLM's testing params), ``order``, ``max_parallel_requests``, ``max_budget`` +
``budget_duration`` (routing), ``model_info.id`` (deployment id), ``model_info.mode``
(kept on the deployment), ``model_info.base_model`` (pricing).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledgerlm.proxy.config import ModelEntry, ProxyConfig

__all__ = ["HONOURED_EXTRA", "NOT_SUPPORTED", "deployment_settings", "unsupported_lines", "warn_unsupported"]

log = logging.getLogger("ledgerlm.proxy")

NOT_SUPPORTED: Mapping[str, frozenset[str]] = {
    "": frozenset(
        {
            "finetune_settings",
            "files_settings",
            "credential_list",
            "guardrails",
            "mcp_servers",
            "vector_store_registry",
            "search_tools",
            "prompts",
        }
    ),
    "general_settings": frozenset(
        {
            "proxy_budget_rescheduler_min_time",
            "proxy_budget_rescheduler_max_time",
            "proxy_batch_write_at",
            "database_connection_pool_limit",
            "database_connection_timeout",
            "alerting",
            "alerting_threshold",
            "alert_types",
            "alert_to_webhook_url",
            "enable_jwt_auth",
            "custom_auth",
            "custom_sso",
            "key_management_system",
            "ui_access_mode",
            "allowed_routes",
            "disable_spend_logs",
            "disable_master_key_return",
            "use_redis_transaction_buffer",
            "max_parallel_requests",
            "global_max_parallel_requests",
            "enforce_user_param",
            "allow_requests_on_db_unavailable",
            "forward_client_headers_to_llm_api",
            "infer_model_from_keys",
            "user_header_name",
            "max_response_size_mb",
            "disable_reset_budget",
            "spend_report_frequency",
        }
    ),
    "litellm_settings": frozenset(
        {
            "drop_params",
            "modify_params",
            "set_verbose",
            "json_logs",
            "telemetry",
            "default_team_settings",
            "service_callbacks",
            "redact_user_api_key_info",
            "langfuse_default_tags",
            "log_raw_request_response",
            "default_key_generate_params",
            "upperbound_key_generate_params",
            "default_internal_user_params",
            "max_internal_user_budget",
            "internal_user_budget_duration",
            "key_generation_settings",
            "public_teams",
            "ssl_verify",
            "force_ipv4",
            "return_response_headers",
            "enable_preview_features",
            "disable_end_user_cost_tracking",
            "enable_json_schema_validation",
            "retry_policy",
        }
    ),
    "litellm_params": frozenset(
        {
            "input_cost_per_character",
            "output_cost_per_character",
            "organization",
            "use_in_pass_through",
            "additional_drop_params",
            "drop_params",
            "merge_reasoning_content_in_choices",
            "configurable_clientside_auth_params",
        }
    ),
    "model_info": frozenset(
        {
            "max_tokens",
            "max_input_tokens",
            "max_output_tokens",
            "supports_vision",
            "supports_function_calling",
        }
    ),
}
"""LiteLLM keys accepted and ignored, per section (``""``: top level), each reported at start."""

HONOURED_EXTRA: Mapping[str, frozenset[str]] = {
    "litellm_settings": frozenset(
        {
            "fallbacks",
            "context_window_fallbacks",
            "content_policy_fallbacks",
            "default_fallbacks",
            "cache",
            "cache_params",
            "allowed_fails",
            "cooldown_time",
            "num_retries",
            "request_timeout",
            "check_provider_endpoint",
        }
    ),
}
"""Keys honoured by routing (``ledgerlm.routing``: README "Routing") that the settings models keep as
extras: neither unsupported nor unknown."""


def deployment_settings(entry: ModelEntry) -> dict[str, Any]:
    """Deployment keys kept on ``Deployment.extra``: ``stream_timeout`` (seconds), ``mode``
    (``model_info.mode``), ``region_name`` (also the AWS region when none is set)."""
    params = entry.litellm_params
    out: dict[str, Any] = {}
    if params.stream_timeout is not None:
        out["stream_timeout"] = params.stream_timeout
    mode = (entry.model_info.model_extra or {}).get("mode")
    if mode:
        out["mode"] = str(mode)
    region = (params.model_extra or {}).get("region_name")
    if region and not (params.model_extra or {}).get("aws_region_name"):
        out["aws_region_name"] = str(region)
    return out


def _present(section: Mapping[str, Any] | None, names: frozenset[str]) -> list[str]:
    return sorted(k for k in (section or {}) if k in names)


def unsupported_lines(config: ProxyConfig) -> list[str]:
    """One line per LiteLLM key present in ``config`` that ledgerlm does not support."""
    lines = [
        f"config: {k} is not supported, ignored" for k in _present(config.model_extra, NOT_SUPPORTED[""])
    ]
    for section in ("general_settings", "litellm_settings"):
        extra = getattr(config, section).model_extra
        lines += [
            f"config: {section}.{k} is not supported, ignored"
            for k in _present(extra, NOT_SUPPORTED[section])
        ]
    for index, entry in enumerate(config.model_list):
        for part in ("litellm_params", "model_info"):
            extra = getattr(entry, part).model_extra
            found = _present(extra, NOT_SUPPORTED[part])
            lines += [f"config: model_list[{index}].{part}.{k} is not supported, ignored" for k in found]
    return lines


def is_known_unsupported(section: str, key: str) -> bool:
    """True when ``key`` of ``section`` is a LiteLLM key reported by ``unsupported_lines``, or one
    honoured by routing (``HONOURED_EXTRA``): either way not an unknown key."""
    return key in NOT_SUPPORTED.get(section, frozenset()) or key in HONOURED_EXTRA.get(section, frozenset())


def warn_unsupported(config: ProxyConfig) -> list[str]:
    """Log ``unsupported_lines`` (one warning each) and return them."""
    lines = unsupported_lines(config)
    for line in lines:
        log.warning("%s", line)
    return lines
