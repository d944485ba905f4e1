"""Anthropic Admin API reports -> ``ProviderReport``.

Sources (https://docs.anthropic.com/en/api/admin-api/usage-cost/):

* ``GET /v1/organizations/cost_report``: pages ``{"data": [bucket], "has_more", "next_page"}``; a
  bucket ``{"starting_at", "ending_at", "results": [...]}`` (RFC 3339, 1-day UTC buckets); a result
  ``{"currency": "USD", "amount": "<decimal string>", "workspace_id", "description", "cost_type",
  "context_window", "model", "service_tier", "token_type"}``. ``amount`` is in the LOWEST currency
  unit (CENTS) as a decimal string: ``"123.45"`` is $1.2345. ``cost_type``: ``tokens``,
  ``web_search``, ``code_execution``; ``token_type``: ``uncached_input_tokens``, ``output_tokens``,
  ``cache_read_input_tokens``, ``cache_creation.ephemeral_5m_input_tokens``,
  ``cache_creation.ephemeral_1h_input_tokens``. Without ``group_by[]=description`` model and token
  type are null: daily totals (grain ``day``).
* ``GET /v1/organizations/usage_report/messages``: results with ``uncached_input_tokens``,
  ``cache_read_input_tokens``, ``cache_creation: {ephemeral_5m_input_tokens,
  ephemeral_1h_input_tokens}``, ``output_tokens``, ``server_tool_use: {web_search_requests}``, and
  ``model`` / ``api_key_id`` / ``workspace_id`` / ``service_tier`` / ``context_window`` when grouped.

``service_tier: "batch"`` lines go to the ``batch`` category. Unknown numeric fields are flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ledgerlm.ledger.reconcile.model import Cell, Line
from ledgerlm.ledger.reconcile.normalize import day_of_rfc3339, decimal_of, model_key
from ledgerlm.ledger.reconcile.report import ProviderReport, ReportError

__all__ = ["TOKEN_TYPES", "read_anthropic_pages"]

CENTS = Decimal(100)
TOKEN_TYPES: dict[str, str] = {
    "uncached_input_tokens": "input",
    "output_tokens": "output",
    "cache_read_input_tokens": "cached_input",
    "cache_creation.ephemeral_5m_input_tokens": "cache_write_5m",
    "cache_creation.ephemeral_1h_input_tokens": "cache_write_1h",
}
_COST_TYPES = {"web_search": "web_search", "code_execution": "request"}
_KNOWN_USAGE = frozenset(
    {
        "uncached_input_tokens", "cache_read_input_tokens", "cache_creation", "output_tokens",
        "server_tool_use", "model", "api_key_id", "workspace_id", "service_tier", "context_window",
        "inference_geo",
    }
)  # fmt: skip


def _account(result: Mapping[str, Any]) -> str:
    return str(result.get("workspace_id") or result.get("api_key_id") or "")


def _cost_line(day: Any, result: Mapping[str, Any]) -> Line:
    currency = str(result.get("currency") or "USD").upper()
    if currency != "USD":
        raise ReportError(f"cost amount in {currency!r}: only USD is reconciled")
    usd = decimal_of(result.get("amount", "0")) / CENTS
    model = model_key(result.get("model"))
    cost_type, token_type = result.get("cost_type"), result.get("token_type")
    if not model and not cost_type and not token_type:
        return Line(Cell(day, "", "total", _account(result)), tokens=None, usd=usd)
    if result.get("service_tier") == "batch":
        category = "batch"
    elif cost_type in _COST_TYPES:
        category = _COST_TYPES[str(cost_type)]
    else:
        category = TOKEN_TYPES.get(str(token_type), "other")
    flags = (f"unknown_token_type:{token_type}",) if category == "other" else ()
    return Line(Cell(day, model, category, _account(result)), None, usd, 0, flags)


def _usage_lines(day: Any, result: Mapping[str, Any]) -> list[Line]:
    model, account = model_key(result.get("model")), _account(result)
    writes = result.get("cache_creation") or {}
    tools = result.get("server_tool_use") or {}
    unknown = tuple(
        f"unknown_report_field:{k}"
        for k, v in result.items()
        if k not in _KNOWN_USAGE and isinstance(v, int | dict) and not isinstance(v, bool)
    )
    pairs = [
        ("input", result.get("uncached_input_tokens")),
        ("cached_input", result.get("cache_read_input_tokens")),
        ("cache_write_5m", writes.get("ephemeral_5m_input_tokens")),
        ("cache_write_1h", writes.get("ephemeral_1h_input_tokens")),
        ("output", result.get("output_tokens")),
        ("web_search", tools.get("web_search_requests")),
    ]
    if result.get("service_tier") == "batch":
        pairs = [("batch", sum(int(v or 0) for _, v in pairs[:5]))]
    return [
        Line(Cell(day, model, category, account), tokens=int(value or 0), usd=None, flags=unknown)
        for category, value in pairs
        if value
    ]


def read_anthropic_pages(pages: Sequence[Any]) -> ProviderReport:
    """Lines of Anthropic cost_report and usage_report/messages pages (any mix)."""
    report = ProviderReport(grain="category")
    for page in pages:
        if not isinstance(page, Mapping) or not isinstance(page.get("data"), list):
            raise ReportError("not an Anthropic report page: expected {'data': [...], 'has_more': ...}")
        report.pages += 1
        for bucket in page["data"]:
            day = day_of_rfc3339(bucket["starting_at"])
            for result in bucket.get("results") or []:
                if "amount" in result:
                    line = _cost_line(day, result)
                    if line.cell.category == "total":
                        report.grain = "day"
                    report.lines.append(line)
                else:
                    report.lines.extend(_usage_lines(day, result))
    return report
