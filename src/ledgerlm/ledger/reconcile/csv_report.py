"""CSV exports -> ``ProviderReport``: console exports, the AWS Cost and Usage Report (Bedrock) and the
Google Cloud billing export to BigQuery saved as CSV (Vertex AI).

* Console export (OpenAI / Anthropic / any): one row per day x model [x category]; columns are
  matched by name, case-insensitively: day (``date``, ``day``, ``usage_date``, ``start_time`` epoch
  seconds or ISO), ``model``, category (``token_type``, ``line_item``, ``category``, ``usage_type``),
  tokens (``tokens``, ``usage_quantity``, ``quantity``) and money: ``cost_usd`` / ``amount_usd`` /
  ``cost`` / ``amount`` in DOLLARS, ``cost_cents`` / ``amount_cents`` in CENTS.
* CUR: ``lineItem/UsageStartDate``, ``lineItem/UsageType`` (``USE1-Claude3.5Sonnet-input-tokens``,
  ``...-output-tokens``, ``...-cache-read-input-token-count``, ``...-cache-write-input-token-count``),
  ``lineItem/UsageAmount`` (tokens), ``lineItem/UnblendedCost`` (USD); only ``AmazonBedrock`` rows.
* BigQuery billing export: ``usage_start_time``, ``service.description`` (``Vertex AI``),
  ``sku.description`` (``Gemini 2.0 Flash Input Text ...``), ``usage.amount``, ``cost`` (USD; credits in
  ``credits`` are not netted: gross cost is what the ledger prices).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from ledgerlm.ledger.reconcile.anthropic_report import TOKEN_TYPES
from ledgerlm.ledger.reconcile.model import CATEGORIES, Cell, Line
from ledgerlm.ledger.reconcile.normalize import day_of_epoch, day_of_rfc3339, decimal_of, model_key
from ledgerlm.ledger.reconcile.openai_report import LINE_ITEM_KINDS
from ledgerlm.ledger.reconcile.report import ProviderReport, ReportError

__all__ = ["category_of", "read_csv_report"]

_DAY = (
    "date",
    "day",
    "usage_date",
    "start_time",
    "starting_at",
    "usage_start_time",
    "lineitem/usagestartdate",
)
_TOKENS = ("tokens", "usage_quantity", "quantity", "usage.amount", "lineitem/usageamount")
_DOLLARS = ("cost_usd", "amount_usd", "cost", "amount", "lineitem/unblendedcost", "usd")
_CENTS = ("cost_cents", "amount_cents")
_CATEGORY = ("token_type", "category", "line_item", "usage_type", "lineitem/usagetype", "sku.description")
_CUR_KINDS = (
    ("cache-read", "cached_input"),
    ("cache-write", "cache_write_5m"),
    ("input", "input"),
    ("output", "output"),
)


def category_of(text: str) -> str:
    """A category from a console, CUR or SKU label (``other`` when unrecognised)."""
    label = text.strip().lower()
    if label in CATEGORIES:
        return label
    if label in TOKEN_TYPES:
        return TOKEN_TYPES[label]
    kind = label.rpartition(", ")[2]
    if kind in LINE_ITEM_KINDS:
        return LINE_ITEM_KINDS[kind]
    for needle, category in _CUR_KINDS:
        if needle in label:
            return category
    return "other"


def _pick(row: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return value
    return None


def _day(value: str) -> date:
    return day_of_epoch(value) if re.fullmatch(r"\d{9,11}(\.\d+)?", value) else day_of_rfc3339(value)


def _model(row: Mapping[str, str], label: str) -> str:
    if row.get("model"):
        return model_key(row["model"])
    if "lineitem/usagetype" in row:  # USE1-Claude3.5Sonnet-input-tokens -> claude3.5sonnet
        parts = label.split("-")
        return model_key(parts[1] if len(parts) > 2 else label)
    words = re.split(r"\s+(input|output|cach)", label.lower(), maxsplit=1)[0]
    return model_key(words.strip().replace(" ", "-"))


def _usd(row: Mapping[str, str]) -> Decimal | None:
    cents = _pick(row, _CENTS)
    if cents is not None:
        return decimal_of(cents) / 100
    dollars = _pick(row, _DOLLARS)
    return None if dollars is None else decimal_of(dollars)


def _line(row: Mapping[str, str]) -> Line | None:
    product = row.get("lineitem/productcode") or row.get("service.description")
    if product and product.lower() not in ("amazonbedrock", "vertex ai", "vertex ai api"):
        return None
    day_text = _pick(row, _DAY)
    if day_text is None:
        raise ReportError("a CSV row has no day column (date, day, usage_date, start_time, ...)")
    label = _pick(row, _CATEGORY) or ""
    category = category_of(label) if label else "total"
    tokens = _pick(row, _TOKENS)
    flags = (f"unknown_category:{label}",) if category == "other" else ()
    return Line(
        Cell(_day(day_text), _model(row, label), category),
        tokens=None if tokens is None else int(decimal_of(tokens)),
        usd=_usd(row),
        flags=flags,
    )


def read_csv_report(text: str) -> ProviderReport:
    """Lines of a CSV export (see module doc); ``ReportError`` when it has no header or day column."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ReportError("empty CSV (no header row)")
    report = ProviderReport(grain="category", pages=1)
    for raw in reader:
        row: dict[str, Any] = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        line = _line(row)
        if line is not None:
            report.lines.append(line)
    if report.lines and all(line.cell.category == "total" for line in report.lines):
        report.grain = "model" if any(line.cell.model for line in report.lines) else "day"
    return report
