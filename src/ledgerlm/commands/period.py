"""``ledgerlm period``: close a month for good, list closed months, print a month's report.

* ``ledgerlm period close 2026-11 [--note TEXT]``: freezes the month (it must have ended): no
  adjustment lands in it any more; later corrections land in the open month, linked to it. There is
  no reopen.
* ``ledgerlm period list``: closed months with who closed them, when, and the report's SHA-256.
* ``ledgerlm period report 2026-11``: the month's report as canonical JSON (a closed month's stored
  report, byte for byte the same every time).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from ledgerlm.commands.ledger_common import UrlOption, actor, open_engine


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


async def _close(database_url: str | None, period: str, note: str | None) -> dict[str, Any]:
    from ledgerlm.ledger.periods import close_period, parse_period

    engine = open_engine(database_url)
    try:
        return await close_period(engine, parse_period(period), actor=actor(), note=note)
    finally:
        await engine.dispose()


async def _list(database_url: str | None) -> list[dict[str, Any]]:
    from ledgerlm.ledger.periods import list_periods

    engine = open_engine(database_url)
    try:
        return await list_periods(engine)
    finally:
        await engine.dispose()


async def _report(database_url: str | None, period: str) -> str:
    from ledgerlm.ledger.periods import frozen_report

    engine = open_engine(database_url)
    try:
        return await frozen_report(engine, period)
    finally:
        await engine.dispose()


def register(app: typer.Typer) -> None:
    """Add the ``period`` command group to ``app``."""
    group = typer.Typer(help="Closed periods (months): close, list, report.", no_args_is_help=True)
    app.add_typer(group, name="period")

    @group.command("close")
    def close(
        period: Annotated[str, typer.Argument(help="The UTC month, YYYY-MM.")],
        note: Annotated[str | None, typer.Option(help="Recorded with the close.")] = None,
        database_url: UrlOption = None,
    ) -> None:
        """Close PERIOD for good (it must have ended)."""
        row = asyncio.run(_close(database_url, period, note))
        typer.echo(f"closed {row['period']} (report sha256 {row['checksum']})")

    @group.command("list")
    def list_command(database_url: UrlOption = None) -> None:
        """Closed periods, newest first, as JSON."""
        rows = asyncio.run(_list(database_url))
        typer.echo(json.dumps([_jsonable(row) for row in rows], indent=2))

    @group.command("report")
    def report(
        period: Annotated[str, typer.Argument(help="The UTC month, YYYY-MM.")],
        database_url: UrlOption = None,
    ) -> None:
        """The period's report as canonical JSON (stored when closed)."""
        typer.echo(asyncio.run(_report(database_url, period)))
