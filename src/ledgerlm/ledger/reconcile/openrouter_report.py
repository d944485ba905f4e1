"""OpenRouter's own figures -> ``ProviderReport`` (money at grain ``model``: one cost per day x model).

Sources (https://openrouter.ai/docs/api-reference):

* ``GET /api/v1/activity``: ``{"data": [{"date": "YYYY-MM-DD", "model", "usage" (USD spent),
  "requests", "prompt_tokens", "completion_tokens", "reasoning_tokens", ...}]}`` (per UTC day, model,
  provider endpoint);
* ``GET /api/v1/generation?id=<generation id>``: ``{"data": {"id", "model", "created_at",
  "total_cost" (USD), "native_tokens_prompt", "native_tokens_completion", ...}}``, one generation.

Both report the cost OpenRouter charged; tokens are prompt + completion (reasoning is inside
completion).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ledgerlm.ledger.reconcile.model import Cell, Line
from ledgerlm.ledger.reconcile.normalize import day_of_rfc3339, decimal_of, model_key
from ledgerlm.ledger.reconcile.report import ProviderReport, ReportError

__all__ = ["read_openrouter_pages"]


def _activity_line(item: Mapping[str, Any]) -> Line:
    tokens = int(item.get("prompt_tokens") or 0) + int(item.get("completion_tokens") or 0)
    day = date.fromisoformat(str(item["date"])[:10])
    return Line(Cell(day, model_key(item.get("model")), "total"), tokens, decimal_of(item.get("usage", 0)))


def _generation_line(item: Mapping[str, Any]) -> Line:
    prompt = item.get("native_tokens_prompt", item.get("tokens_prompt")) or 0
    completion = item.get("native_tokens_completion", item.get("tokens_completion")) or 0
    day = day_of_rfc3339(item["created_at"])
    usd = decimal_of(item.get("total_cost", 0))
    return Line(Cell(day, model_key(item.get("model")), "total"), int(prompt) + int(completion), usd)


def read_openrouter_pages(pages: Sequence[Any]) -> ProviderReport:
    """Lines of activity pages and/or generation objects (each ``{"data": ...}``)."""
    report = ProviderReport(grain="model")
    for page in pages:
        data = page.get("data") if isinstance(page, Mapping) else None
        if isinstance(data, Mapping) and "total_cost" in data:
            report.lines.append(_generation_line(data))
        elif isinstance(data, list):
            report.lines.extend(_activity_line(item) for item in data)
        else:
            raise ReportError("not an OpenRouter activity page or generation object")
        report.pages += 1
    return report
