"""OpenAI Admin API reports -> ``ProviderReport``.

Sources (https://platform.openai.com/docs/api-reference/usage):

* ``GET /v1/organization/costs``: pages ``{"object": "page", "data": [bucket], "has_more", "next_page"}``;
  a bucket ``{"object": "bucket", "start_time", "end_time", "results": [...]}`` (epoch SECONDS, 1-day
  UTC buckets); a result ``{"object": "organization.costs.result", "amount": {"value": <number>,
  "currency": "usd"}, "line_item", "project_id"}``. ``amount.value`` is in DOLLARS. With
  ``group_by=line_item`` the line item reads ``"<model>, <kind>"`` (``gpt-4o-2024-08-06, input``,
  ``..., cached input``, ``..., output``); without it the report is daily totals (grain ``day``).
* ``GET /v1/organization/usage/completions``: results ``organization.usage.completions.result`` with
  ``input_tokens`` (text input, INCLUDING cached), ``input_cached_tokens``, ``output_tokens`` (text
  output, reasoning included), ``input_audio_tokens``, ``output_audio_tokens``, ``num_model_requests``,
  and ``model`` / ``project_id`` / ``api_key_id`` / ``batch`` when grouped by them.
* ``usage/embeddings`` (``input_tokens``), ``usage/images`` (``images``), ``usage/audio_speeches``
  (``characters``), ``usage/audio_transcriptions`` (``seconds``): counts in their own units (flagged).

A numeric result field this module does not know is kept as a flag ``unknown_report_field:<name>`` on
the row, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ledgerlm.ledger.reconcile.model import Cell, Line
from ledgerlm.ledger.reconcile.normalize import day_of_epoch, decimal_of, model_key
from ledgerlm.ledger.reconcile.report import Grain, ProviderReport, ReportError

__all__ = ["LINE_ITEM_KINDS", "USAGE_PATHS", "read_openai_pages"]

USAGE_PATHS: tuple[str, ...] = (
    "usage/completions",
    "usage/embeddings",
    "usage/images",
    "usage/audio_speeches",
    "usage/audio_transcriptions",
)

LINE_ITEM_KINDS: dict[str, str] = {
    "input": "input",
    "cached input": "cached_input",
    "output": "output",
    "audio input": "audio_input",
    "input audio": "audio_input",
    "cached audio input": "cached_input",
    "audio output": "audio_output",
    "output audio": "audio_output",
    "image input": "image_input",
    "image output": "image_output",
    "web search": "web_search",
    "web search tool calls": "web_search",
}

_KNOWN_FIELDS = frozenset(
    {
        "object", "input_tokens", "input_cached_tokens", "output_tokens", "input_audio_tokens",
        "output_audio_tokens", "num_model_requests", "project_id", "user_id", "api_key_id", "model",
        "batch", "images", "size", "source", "characters", "seconds", "service_tier",
    }
)  # fmt: skip


def _account(result: Mapping[str, Any]) -> str:
    return str(result.get("project_id") or result.get("api_key_id") or "")


def _cost_line(day: Any, result: Mapping[str, Any]) -> tuple[Line, Grain]:
    amount = result.get("amount") or {}
    currency = str(amount.get("currency") or "usd").lower()
    if currency != "usd":
        raise ReportError(f"cost amount in {currency!r}: only usd is reconciled")
    usd = decimal_of(amount.get("value", 0))
    item = result.get("line_item")
    if not item:
        return Line(Cell(day, "", "total", _account(result)), tokens=None, usd=usd), "day"
    model, _, kind = str(item).rpartition(", ")
    kind = kind.strip().lower()
    batch = "batch" in kind
    category = "batch" if batch else LINE_ITEM_KINDS.get(kind, "other")
    flags = () if category != "other" else (f"unknown_line_item:{item}",)
    return Line(
        Cell(day, model_key(model or item), category, _account(result)), None, usd, 0, flags
    ), "category"


def _usage_lines(day: Any, result: Mapping[str, Any]) -> list[Line]:
    kind = str(result.get("object", ""))
    model = model_key(result.get("model"))
    account = _account(result)
    unknown = tuple(
        f"unknown_report_field:{k}"
        for k, v in result.items()
        if k not in _KNOWN_FIELDS and isinstance(v, int) and not isinstance(v, bool)
    )

    def line(category: str, tokens: int, *flags: str) -> Line:
        return Line(
            Cell(day, model, category, account), tokens=int(tokens), usd=None, flags=(*flags, *unknown)
        )

    if kind.endswith("images.result"):
        return [line("image_output", result.get("images", 0), "unit:images")]
    if kind.endswith("audio_speeches.result"):
        return [line("audio_output", result.get("characters", 0), "unit:characters")]
    if kind.endswith("audio_transcriptions.result"):
        return [line("audio_input", result.get("seconds", 0), "unit:seconds")]
    text_in = int(result.get("input_tokens") or 0)
    cached = int(result.get("input_cached_tokens") or 0)
    audio_in, audio_out = (
        int(result.get("input_audio_tokens") or 0),
        int(result.get("output_audio_tokens") or 0),
    )
    output = int(result.get("output_tokens") or 0)
    if result.get("batch"):
        return [line("batch", text_in + audio_in + output + audio_out)]
    pairs = (
        ("input", text_in - cached), ("cached_input", cached), ("output", output),
        ("audio_input", audio_in), ("audio_output", audio_out),
    )  # fmt: skip
    return [line(category, tokens) for category, tokens in pairs if tokens]


def read_openai_pages(pages: Sequence[Any]) -> ProviderReport:
    """Lines of OpenAI costs and usage pages (any mix); ``ReportError`` on a page of another shape."""
    report = ProviderReport(grain="category")
    grains: list[Grain] = []
    for page in pages:
        if not isinstance(page, Mapping) or not isinstance(page.get("data"), list):
            raise ReportError("not an OpenAI page: expected {'object': 'page', 'data': [...]}")
        report.pages += 1
        for bucket in page["data"]:
            day = day_of_epoch(bucket["start_time"])
            for result in bucket.get("results") or []:
                if str(result.get("object", "")).endswith("costs.result"):
                    line, grain = _cost_line(day, result)
                    report.lines.append(line)
                    grains.append(grain)
                else:
                    report.lines.extend(_usage_lines(day, result))
    if "day" in grains:
        report.grain = "day"
    return report
