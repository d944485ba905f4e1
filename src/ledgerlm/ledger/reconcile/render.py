"""The default (human) output of ``ledgerlm reconcile``: a summary line and a table of rows.

Matched rows are folded into one count line so the table shows what needs attention; money is printed
as exact decimal strings (USD), never rounded floats.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledgerlm.ledger.reconcile.model import ReconcileResult

__all__ = ["render_table", "summary_line"]

_COLUMNS = (
    "date",
    "model",
    "category",
    "ledger tokens",
    "provider tokens",
    "ledger USD",
    "provider USD",
    "delta USD",
    "explanation",
)


def _money(value: Decimal) -> str:
    text = format(value.normalize(), "f") if value else "0"
    return text


def summary_line(result: ReconcileResult) -> str:
    """One line: totals, capture rate (6 decimals for reading; ``--json`` has every digit), status."""
    rate = result.capture_rate
    shown = "n/a (provider billed nothing)" if rate is None else f"{rate:.6f}"
    return (
        f"{result.provider} {result.start}..{result.end}: ledger ${_money(result.ledger_usd)}, "
        f"provider ${_money(result.provider_usd)}, capture rate {shown}, "
        f"tolerance {result.tolerance}: {result.status.upper()}"
    )


def render_table(result: ReconcileResult) -> Any:
    """A ``rich.table.Table`` of every row that is not ``matched`` (plus a matched count caption)."""
    from rich.table import Table

    table = Table(title="differences (rows not matched)")
    for name in _COLUMNS:
        right = "tokens" in name or "USD" in name
        table.add_column(
            name, justify="right" if right else "left", no_wrap=name in ("explanation", "date", "category")
        )
    for row in result.rows:
        if row.explanation == "matched":
            continue
        data = row.to_json()
        table.add_row(
            data["date"],
            data["model"] or "(all)",
            data["category"],
            "-" if row.ledger.tokens is None else str(row.ledger.tokens),
            "-" if row.provider.tokens is None else str(row.provider.tokens),
            _money(row.ledger.usd),
            _money(row.provider.usd),
            _money(row.delta_usd),
            row.explanation,
        )
    table.caption = f"{result.counts()['matched']} matched rows not shown; --json lists every row"
    return table
