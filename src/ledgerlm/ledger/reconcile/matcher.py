"""Match the ledger's lines with the provider's, cell by cell, and explain every difference.

``reconcile(inputs, settings)`` -> ``ReconcileResult``. Steps:

1. ``_collapse``: both sides go to the report's grain (``category``, ``model``: one ``total`` per day x
   model, ``day``: one ``total`` per day) and drop the account unless ``settings.by_account``; lines
   outside the inclusive UTC window are dropped.
2. ``_cells``: sum each side per cell (``Side``).
3. ``explain`` (``ledger.reconcile.explain``): exactly one explanation per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ledgerlm.ledger.reconcile.explain import ExplainSettings, explain
from ledgerlm.ledger.reconcile.model import Cell, DiffRow, Line, ReconcileResult, Side
from ledgerlm.ledger.reconcile.rates import CatalogRate, catalog_rate
from ledgerlm.ledger.reconcile.report import Grain, ProviderReport

__all__ = ["MatchInputs", "MatchSettings", "reconcile"]


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """``tolerance``: allowed total drift as a fraction of the provider's bill (0.01 = 1%);
    ``by_account``: match per provider project / workspace / key id (set when the config maps
    deployments to one); ``explain``: per-cell thresholds; ``catalog``: the catalog rate lookup."""

    tolerance: Decimal = Decimal("0.01")
    by_account: bool = False
    explain: ExplainSettings = field(default_factory=ExplainSettings)
    catalog: CatalogRate = catalog_rate


@dataclass(frozen=True, slots=True)
class MatchInputs:
    """``provider`` name, inclusive UTC ``start``/``end``, the ledger's lines and the report."""

    provider: str
    start: date
    end: date
    ledger: list[Line]
    report: ProviderReport


def _collapse(cell: Cell, grain: Grain, by_account: bool) -> Cell:
    account = cell.account if by_account else ""
    if grain == "model":
        return Cell(cell.day, cell.model, "total", account)
    if grain == "day":
        return Cell(cell.day, "", "total", account)
    return Cell(cell.day, cell.model, cell.category, account)


def _cells(inputs: MatchInputs, settings: MatchSettings) -> dict[Cell, tuple[Side, Side]]:
    cells: dict[Cell, tuple[Side, Side]] = {}
    grain = inputs.report.grain
    sides: Iterable[tuple[int, list[Line]]] = ((0, inputs.ledger), (1, inputs.report.lines))
    for index, lines in sides:
        for line in lines:
            if not inputs.start <= line.cell.day <= inputs.end:
                continue
            cell = _collapse(line.cell, grain, settings.by_account)
            pair = cells.setdefault(cell, (Side(), Side()))
            pair[index].add(line)
    return cells


def reconcile(inputs: MatchInputs, settings: MatchSettings | None = None) -> ReconcileResult:
    """The explained comparison of ``inputs`` (see module doc)."""
    settings = settings or MatchSettings()
    cells = _cells(inputs, settings)
    rows = [DiffRow(cell, ledger, provider) for cell, (ledger, provider) in sorted(cells.items())]
    explain(rows, inputs.provider, settings.explain, settings.catalog)
    return ReconcileResult(inputs.provider, inputs.start, inputs.end, rows, settings.tolerance)
