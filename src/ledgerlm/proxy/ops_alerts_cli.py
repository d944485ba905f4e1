"""Operational alerts sent outside a running proxy: ``ledgerlm tags drift --alert``.

``standalone_alerts(config)`` builds the proxy's ``OpsAlerts`` from the same config: the channels of
``budget_settings.alerts`` (``webhook_urls``, ``slack_webhook_urls``, ``slack_alerter``), the same
events and de-duplication keys (``ops|tag_drift|<dimension>|<from>..<to>``), so a drift the proxy's
``GET /tags/drift`` already alerted is not sent again. Marks: Redis ``SET NX`` (``redis_url`` /
``$REDIS_URL``, the budgets' ``redis_prefix``: shared with every proxy instance), else a small JSON file
``<general_settings.spool_dir>/alert-marks.json`` (shared by the runs on this machine). Raises
``ConfigError`` when no channel is configured.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ledgerlm.budgets.alerts import HTTPAlertSender
from ledgerlm.budgets.config import BudgetConfig, parse_budget_config
from ledgerlm.errors import ConfigError
from ledgerlm.proxy.config import ProxyConfig
from ledgerlm.proxy.ops_alerts import MarkOnce, OpsAlerts

__all__ = ["FileMarks", "standalone_alerts"]


class FileMarks:
    """``mark_once`` on a JSON file ``{key: expiry epoch seconds}`` (expired keys dropped on write)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def __call__(self, key: str, ttl_s: float) -> bool:
        now = time.time()
        try:
            marks = {
                k: float(v) for k, v in json.loads(self.path.read_text("utf-8")).items() if float(v) > now
            }
        except (OSError, ValueError, AttributeError):
            marks = {}
        if key in marks:
            return False
        marks[key] = now + ttl_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(marks), "utf-8")
        tmp.replace(self.path)
        return True


def _redis_marks(budget: BudgetConfig) -> MarkOnce:
    from ledgerlm.budgets.redis_backend import RedisBudgets

    async def mark_once(key: str, ttl_s: float) -> bool:
        backend = RedisBudgets(url=budget.redis_url, prefix=budget.redis_prefix)
        try:
            return await backend.mark_once(key, ttl_s)
        finally:
            await backend.close()

    return mark_once


def standalone_alerts(config: ProxyConfig) -> OpsAlerts:
    """The proxy's operational alerts for a one-off command (module docstring)."""
    raw = getattr(config, "budget_settings", None) or (config.model_extra or {}).get("budget_settings")
    budget = parse_budget_config(
        raw, general=config.general_settings.model_dump(), litellm=config.litellm_settings.model_dump()
    )
    settings = budget.alert_settings()
    if not (settings.webhook_urls or settings.slack_webhook_urls or settings.slack_alerter):
        raise ConfigError(
            "no alert channel: set budget_settings.alerts.webhook_urls, slack_webhook_urls or slack_alerter",
            path="budget_settings.alerts",
        )
    if budget.redis_url:
        marks = _redis_marks(budget)
    else:
        marks = FileMarks(Path(config.general_settings.spool_dir) / "alert-marks.json")
    return OpsAlerts(HTTPAlertSender(settings), None, marks)
