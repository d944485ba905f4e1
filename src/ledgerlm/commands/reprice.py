"""``ledgerlm reprice``: re-price spend rows at the price in force at each call's time, audited.

::

    ledgerlm reprice --from 2026-11-01 --to 2026-11-30 [--model M] [--team T] [--price-file F]
                     [--dry-run | --apply --reason "catalog fix"] [--json] [--database-url URL]

``--from``/``--to``: UTC days (``--to`` included) or ISO datetimes. The price book is the database's
(``ledgerlm prices history``), with ``--price-file`` entries replacing it for the models the file names
(``ledgerlm.pricing.book_file``). A dry run (the default) prints the diff and writes nothing;
``--apply`` writes adjustments (``ledgerlm.ledger.adjustments``) naming who ran it and why, and needs
``--reason``. Running the same re-price twice changes nothing the second time.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledgerlm.commands.ledger_common import UrlOption, actor, open_engine, parse_bound

if TYPE_CHECKING:
    from ledgerlm.ledger.reprice import RepriceDiff


def _money(value: Decimal) -> str:
    from ledgerlm.store.coltypes import money_str

    return money_str(value) or "0"


def diff_json(diff: RepriceDiff, *, applied: bool) -> dict[str, Any]:
    """The diff as JSON-ready data (amounts as decimal strings, USD)."""
    by = {
        name: {
            group: {"before": _money(pair[0]), "after": _money(pair[1]), "delta": _money(pair[1] - pair[0])}
            for group, pair in sorted(groups.items())
        }
        for name, groups in diff.by.items()
    }
    return {
        "applied": applied,
        "rows": diff.rows,
        "changed": diff.changed,
        "backfilled": diff.backfilled,
        "adjustments_written": diff.written,
        "unpriced_before": diff.unpriced_before,
        "unpriced_after": diff.unpriced_after,
        "total_before": _money(diff.before),
        "total_after": _money(diff.after),
        "delta": _money(diff.after - diff.before),
        "by": by,
    }


def render(data: dict[str, Any]) -> str:
    """The diff as text: counts, totals, then the groups whose total changes."""
    head = "applied" if data["applied"] else "dry run (nothing written; --apply to write adjustments)"
    lines = [
        f"re-price: {head}",
        f"rows {data['rows']}, changed {data['changed']} (back-filled {data['backfilled']}), "
        f"adjustments written {data['adjustments_written']}",
        f"unpriced rows {data['unpriced_before']} -> {data['unpriced_after']}",
        f"total USD {data['total_before']} -> {data['total_after']} (delta {data['delta']})",
    ]
    for name, groups in data["by"].items():
        changed = {g: v for g, v in groups.items() if v["delta"] != "0"}
        if changed:
            lines.append(f"by {name}:")
            lines.extend(
                f"  {g or '-'}: {v['before']} -> {v['after']} ({v['delta']})" for g, v in changed.items()
            )
    return "\n".join(lines)


async def run_reprice(options: dict[str, Any]) -> dict[str, Any]:
    """Load the book, re-price, return ``diff_json`` (``options``: the command's parsed options)."""
    from ledgerlm.ledger.adjustments import RunInfo
    from ledgerlm.ledger.reprice import RepriceScope, reprice
    from ledgerlm.pricing.book_file import load_price_file
    from ledgerlm.store.price_book import load_book

    engine = open_engine(options["database_url"])
    try:
        book = await load_book(engine)
        if options["price_file"] is not None:
            book = book.overlay(load_price_file(options["price_file"]))
        scope = RepriceScope(options["start"], options["end"], options["model"], options["team"])
        run = None
        if options["apply"]:
            run = RunInfo(uuid.uuid4().hex, actor(), options["reason"], datetime.now(UTC))
        diff = await reprice(engine, scope, book, run=run, batch_size=options["batch_size"])
    finally:
        await engine.dispose()
    return diff_json(diff, applied=run is not None)


def register(app: typer.Typer) -> None:
    """Add the ``reprice`` command to ``app``."""

    @app.command("reprice")
    def reprice_command(
        start: Annotated[str, typer.Option("--from", help="First UTC day (YYYY-MM-DD) or ISO datetime.")],
        end: Annotated[str, typer.Option("--to", help="Last UTC day (included) or ISO datetime (excluded).")],
        model: Annotated[str | None, typer.Option(help="Only this model group or provider model.")] = None,
        team: Annotated[str | None, typer.Option(help="Only this team id.")] = None,
        price_file: Annotated[Path | None, typer.Option(help="Price entries replacing the book's.")] = None,
        apply: Annotated[
            bool, typer.Option("--apply/--dry-run", help="Write adjustments (default: dry run).")
        ] = False,
        reason: Annotated[str | None, typer.Option(help="Why (recorded on every adjustment).")] = None,
        batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="Rows per batch.")] = 2000,
        as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
        database_url: UrlOption = None,
    ) -> None:
        """Re-price spend rows under the price book; print the diff; --apply writes adjustments."""
        if apply and not (reason or "").strip():
            raise typer.BadParameter("--apply needs --reason (recorded on every adjustment)")
        options = {
            "start": parse_bound(start, "--from"),
            "end": parse_bound(end, "--to", end=True),
            "model": model,
            "team": team,
            "price_file": price_file,
            "apply": apply,
            "reason": (reason or "").strip(),
            "batch_size": batch_size,
            "database_url": database_url,
        }
        data = asyncio.run(run_reprice(options))
        typer.echo(json.dumps(data, indent=2) if as_json else render(data))
