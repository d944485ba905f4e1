"""``ledgerlm export focus``: the ledger as FinOps FOCUS 1.2 (CSV or Parquet).

::

    ledgerlm export focus --from 2026-11-01 --to 2026-11-30 --format csv|parquet [--out PATH]
                          [--granularity call|hour|day] [--billing-account ID] [--database-url URL]

One row per call per token category (``call``) or summed per hour / day; adjustments as
``ChargeCategory=Adjustment``. CSV goes to stdout without ``--out``; Parquet needs ``--out``. A summary
(rows, BilledCost total) goes to stderr. See ``docs/finance.md``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ledgerlm.commands.ledger_common import UrlOption, open_engine, parse_bound


async def run_export(options: dict[str, Any]) -> tuple[int, Any]:
    """Export with the command's parsed ``options``; returns ``(rows, BilledCost total)``."""
    from ledgerlm.ledger.focus_export import ExportScope, focus_batches
    from ledgerlm.ledger.focus_io import write_focus
    from ledgerlm.ledger.focus_rows import FocusOptions

    focus = FocusOptions(options["account"], options["account"])
    scope = ExportScope(options["start"], options["end"], options["granularity"], focus)
    engine = open_engine(options["database_url"])
    try:
        out = options["out"] if options["out"] is not None else sys.stdout
        return await write_focus(focus_batches(engine, scope), options["format"], out)
    finally:
        await engine.dispose()


def register(app: typer.Typer) -> None:
    """Add the ``export`` command group to ``app``."""
    group = typer.Typer(help="Export the ledger (FOCUS 1.2).", no_args_is_help=True)
    app.add_typer(group, name="export")

    @group.command("focus")
    def focus(
        start: Annotated[str, typer.Option("--from", help="First UTC day (YYYY-MM-DD) or ISO datetime.")],
        end: Annotated[str, typer.Option("--to", help="Last UTC day (included) or ISO datetime (excluded).")],
        fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
        out: Annotated[Path | None, typer.Option(help="Output file (CSV default: stdout).")] = None,
        granularity: Annotated[str, typer.Option(help="call, hour or day.")] = "call",
        account: Annotated[
            str, typer.Option("--billing-account", help="BillingAccountId/Name.")
        ] = "ledgerlm",
        database_url: UrlOption = None,
    ) -> None:
        """Write the ledger of a time range as FOCUS 1.2 rows."""
        if fmt not in ("csv", "parquet"):
            raise typer.BadParameter("--format must be csv or parquet")
        if granularity not in ("call", "hour", "day"):
            raise typer.BadParameter("--granularity must be call, hour or day")
        if fmt == "parquet" and out is None:
            raise typer.BadParameter("--format parquet needs --out PATH")
        options = {
            "start": parse_bound(start, "--from"),
            "end": parse_bound(end, "--to", end=True),
            "format": fmt,
            "out": out,
            "granularity": granularity,
            "account": account,
            "database_url": database_url,
        }
        rows, total = asyncio.run(run_export(options))
        typer.echo(f"wrote {rows} FOCUS rows, BilledCost total {format(total, 'f')} USD", err=True)
