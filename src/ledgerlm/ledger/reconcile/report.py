"""``ProviderReport``: the provider's side as ``Line`` values, and how to load saved report files.

``load_report(provider, paths)`` reads each file (JSON pages exactly as the API returns them, a JSON
list of such pages, or a CSV export) and hands it to the provider's reader. ``ReportError`` (a
``ValueError``) names the file and what is wrong: the command answers exit status 2.

``grain`` tells how fine the report's money is: ``"category"`` (day x model x token category),
``"model"`` (day x model: OpenRouter activity) or ``"day"`` (daily totals: a cost report not grouped
by line item / description). The matcher sums the ledger to the same grain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from ledgerlm.ledger.reconcile.model import Line

__all__ = ["GRAINS", "Grain", "ProviderReport", "ReportError", "coarsest", "load_report", "parse_json"]

Grain = Literal["category", "model", "day"]
GRAINS: tuple[Grain, ...] = ("category", "model", "day")


class ReportError(ValueError):
    """A report that cannot be read (bad JSON/CSV, missing fields, wrong units)."""


@dataclass(slots=True)
class ProviderReport:
    """``lines`` of the provider's side; ``grain`` of its money; ``pages`` read (for paging tests)."""

    lines: list[Line] = field(default_factory=list)
    grain: Grain = "category"
    pages: int = 0

    def extend(self, other: ProviderReport) -> None:
        """Add ``other``'s lines; the grain becomes the coarser of both."""
        self.lines.extend(other.lines)
        self.grain = coarsest((self.grain, other.grain))
        self.pages += other.pages


def coarsest(grains: Iterable[Grain]) -> Grain:
    """The coarsest of ``grains`` (``"day"`` > ``"model"`` > ``"category"``)."""
    return max(grains, key=GRAINS.index, default="category")


def parse_json(text: str | bytes) -> Any:
    """JSON with every non-integer number as an exact ``Decimal`` (never a float)."""
    return json.loads(text, parse_float=Decimal)


JsonReader = Callable[[Sequence[Any]], ProviderReport]
CsvReader = Callable[[str], ProviderReport]


def _pages(document: Any) -> list[Any]:
    """A document is one page (``{"data": ...}``), or a list of pages."""
    if isinstance(document, list) and all(isinstance(page, dict) for page in document):
        return document
    if isinstance(document, dict):
        return [document]
    raise ReportError("expected a JSON page object or a list of pages")


def load_report(paths: Sequence[str], read_json: JsonReader, read_csv: CsvReader) -> ProviderReport:
    """Read every file in ``paths`` (``.csv`` by the CSV reader, anything else as JSON pages)."""
    report = ProviderReport()
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ReportError(f"cannot read report {path}: {exc.strerror or exc}") from None
        try:
            if path.lower().endswith(".csv") or not text.lstrip().startswith(("{", "[")):
                part = read_csv(text)
            else:
                part = read_json(_pages(parse_json(text)))
        except ReportError as exc:
            raise ReportError(f"{path}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ReportError(f"{path}: not a report this provider's reader understands: {exc}") from None
        report.extend(part)
    return report
