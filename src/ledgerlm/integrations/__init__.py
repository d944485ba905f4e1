"""Exporters: every LLM call shipped to OpenTelemetry, Prometheus, Langfuse, Datadog, webhooks, files, Slack,
Sentry, S3, MLflow, Lunary and Helicone.

Registry (LiteLLM's callback names; modules are imported on first use, nothing at import time):

| name | exporter | module |
| --- | --- | --- |
| ``otel`` (``opentelemetry``) | GenAI spans + metrics over OTLP/HTTP | ``otel`` |
| ``prometheus`` | ``/metrics`` series | ``prometheus`` |
| ``langfuse`` | ingestion API traces + generations | ``langfuse`` |
| ``datadog`` | HTTP logs intake | ``datadog`` |
| ``generic_api`` (``webhook``) | JSON batch POST, HMAC signature | ``webhook`` |
| ``file`` | JSON lines, rotated by size and date | ``file`` |
| ``slack`` | failure alerts + ``alert(text)`` | ``slack`` |
| ``sentry`` | failures as Sentry error events (envelopes) | ``sentry`` |
| ``s3`` | JSON-lines objects keyed ``prefix/YYYY/MM/DD/HH/...`` | ``s3`` |
| ``mlflow`` | one MLflow trace per call (GenAI span attributes, cost) | ``mlflow`` |
| ``lunary`` | Lunary run events (``/v1/runs/ingest``) | ``lunary`` |
| ``helicone`` | Helicone async logs (``/custom/v1/log``) | ``helicone`` |

``get_exporter(name, settings)`` accepts either the exporter's own settings mapping or the whole proxy
config (``config.model_dump()``): then the settings come from ``callback_settings.<name>`` (LiteLLM's
per-callback block; ``callback_type: generic_api`` there makes a custom name a webhook) merged over
``litellm_settings.<name>_callback_params`` (LiteLLM's ``s3_callback_params``),
``litellm_settings.turn_off_message_logging`` forces content off, ``environment_variables`` overlay the
process environment, and exporters spool under ``general_settings.spool_dir``/``exporters`` unless
``LEDGERLM_EXPORT_SPOOL_DIR`` or ``spool_dir`` says otherwise. Missing keys come from env vars.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ledgerlm.custom_logger import CustomLogger

__all__ = ["EXPORTERS", "exporter_names", "get_exporter"]

EXPORTERS: dict[str, str] = {
    "otel": "ledgerlm.integrations.otel:OtelExporter",
    "opentelemetry": "ledgerlm.integrations.otel:OtelExporter",
    "prometheus": "ledgerlm.integrations.prometheus:PrometheusExporter",
    "langfuse": "ledgerlm.integrations.langfuse:LangfuseExporter",
    "datadog": "ledgerlm.integrations.datadog:DatadogExporter",
    "generic_api": "ledgerlm.integrations.webhook:WebhookExporter",
    "webhook": "ledgerlm.integrations.webhook:WebhookExporter",
    "file": "ledgerlm.integrations.file:FileExporter",
    "slack": "ledgerlm.integrations.slack:SlackAlerter",
    "sentry": "ledgerlm.integrations.sentry:SentryExporter",
    "s3": "ledgerlm.integrations.s3:S3Exporter",
    "mlflow": "ledgerlm.integrations.mlflow:MlflowExporter",
    "lunary": "ledgerlm.integrations.lunary:LunaryExporter",
    "helicone": "ledgerlm.integrations.helicone:HeliconeExporter",
}
"""Callback name -> ``module:Class`` (each class has ``from_settings(settings, env)``)."""

_HINTS = {
    "gcs_bucket": " (use `file`: date-partitioned JSON lines that `gsutil rsync` uploads as is)",
}

_CONFIG_KEYS = (
    "litellm_settings",
    "general_settings",
    "model_list",
    "callback_settings",
    "environment_variables",
)


def exporter_names() -> list[str]:
    """The names ``get_exporter`` knows."""
    return sorted(EXPORTERS)


def _resolve(name: str, settings: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(registry kind, the exporter's flat settings, env) from a flat mapping or a proxy config."""
    env = dict(os.environ)
    if not any(key in settings for key in _CONFIG_KEYS):
        return name, dict(settings), env
    block = dict((settings.get("callback_settings") or {}).get(name) or {})
    kind = name if name in EXPORTERS else str(block.get("callback_type") or name)
    litellm = settings.get("litellm_settings") or {}
    params = litellm.get(f"{kind}_callback_params")  # LiteLLM's s3_callback_params
    if isinstance(params, Mapping):
        block = {**params, **block}
    if litellm.get("turn_off_message_logging"):
        block["turn_off_message_logging"] = True
    env.update(
        {str(k): str(v) for k, v in (settings.get("environment_variables") or {}).items() if v is not None}
    )
    spool_root = (settings.get("general_settings") or {}).get("spool_dir")
    if spool_root and "spool_dir" not in block and not env.get("LEDGERLM_EXPORT_SPOOL_DIR"):
        block["spool_dir"] = str(Path(spool_root) / "exporters")
    return kind, block, env


def get_exporter(name: str, settings: Mapping[str, Any]) -> CustomLogger:
    """Build the exporter registered as ``name`` (see the module docstring for ``settings``).

    Raises ``KeyError`` for an unknown name and ``ValueError`` when a required setting (endpoint, API
    key) is missing. The ``slack`` exporter also becomes the target of ``slack.alert()``.
    """
    kind, flat, env = _resolve(name, settings)
    target = EXPORTERS.get(kind)
    if target is None:
        hint = _HINTS.get(kind, "")
        raise KeyError(f"unknown exporter {name!r}{hint}; known: {', '.join(exporter_names())}")
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    exporter: CustomLogger = cls.from_settings(flat, env)
    if kind == "slack":
        from ledgerlm.integrations.slack import SlackAlerter, set_default_alerter

        if isinstance(exporter, SlackAlerter):
            set_default_alerter(exporter)
    return exporter
