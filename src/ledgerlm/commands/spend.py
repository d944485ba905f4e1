"""``ledgerlm spend report --by team|tag|model|key|customer|user|day``: spend totals from the database.

Mirrors ``GET /global/spend/report``: totals over ``--start``/``--end`` (inclusive UTC dates,
``YYYY-MM-DD``; default: all time), highest spend first, as a table or with ``--json`` as a JSON list
(amounts as decimal strings in USD, never floats; unpriced calls counted apart).
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

if TYPE_CHECKING:
    from ledgerlm.store.spend_queries import GroupBy

BY_CHOICES = {
    "team": "team",
    "tag": "tag",
    "model": "model",
    "key": "api_key",
    "api_key": "api_key",
    "customer": "customer",
    "end_user": "customer",
    "user": "user",
    "day": "day",
}


def _parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{name} must be YYYY-MM-DD, got {value!r}") from exc


def report_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Report rows as JSON-ready dicts: ``spend`` as a decimal string (USD), dates as ISO strings."""
    from ledgerlm.store.coltypes import money_str

    out = []
    for row in rows:
        item = dict(row)
        item["spend"] = money_str(row["spend"])
        item["group"] = row["group"].isoformat() if isinstance(row["group"], date) else row["group"]
        out.append(item)
    return out


ByOption = Annotated[
    str,
    typer.Option("--by", "--group-by", help="team, tag, model, key, customer, user, day or tag:<dimension>."),
]
UrlOption = Annotated[str | None, typer.Option("--database-url", help="Default: $DATABASE_URL.")]
StartOption = Annotated[str | None, typer.Option("--start", help="First UTC day, YYYY-MM-DD (inclusive).")]
EndOption = Annotated[str | None, typer.Option("--end", help="Last UTC day, YYYY-MM-DD (inclusive).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")]
COUNTS = ("api_requests", "failed_requests", "unpriced_requests", "prompt_tokens", "completion_tokens")
COLUMNS = ("label", "spend (USD)", "requests", "failed", "unpriced", "prompt tokens", "completion tokens")


def render_table(by: str, rows: list[dict[str, Any]]) -> Any:
    """A ``rich.table.Table`` of report rows (spend as exact decimal strings)."""
    from rich.table import Table

    overlap = " (overlapping: a call with several tags counts in each; --by tag:<dimension> adds up)"
    table = Table(title=f"Spend by {by}" + (overlap if by == "tag" else ""))
    table.add_column(by, overflow="fold")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name == "label" else "right", no_wrap=name == "spend (USD)")
    for row in report_json(rows):
        table.add_row(
            str(row["group"]), row["label"] or "", row["spend"], *(str(row[name]) for name in COUNTS)
        )
    return table


def _require_sqlite_file(url: str) -> None:
    """``FileNotFoundError`` when ``url`` names a SQLite file that does not exist: a report never
    creates an empty database (e.g. run from another directory than the proxy's)."""
    if not url.startswith("sqlite"):
        return
    path = url.split(":///", 1)[-1].split("?", 1)[0]
    if path and path != ":memory:" and not Path(path).exists():
        raise FileNotFoundError(
            f"no SQLite database at {path}: pass --database-url (the proxy's general_settings.database_url)"
        )


async def fetch_report(
    by: str, database_url: str | None, start: date | None, end: date | None
) -> list[dict[str, Any]]:
    """The report rows for ``by`` (a ``BY_CHOICES`` key) from the database at ``database_url``."""
    from ledgerlm.store.engine import create_engine, resolve_url
    from ledgerlm.store.spend_queries import spend_report

    _require_sqlite_file(resolve_url(database_url))
    engine = create_engine(database_url)
    try:
        group_by = cast("GroupBy", BY_CHOICES[by])
        return await spend_report(engine, group_by, start=start, end=end)
    finally:
        await engine.dispose()


def register(app: typer.Typer) -> None:
    """Add the ``spend`` command group to ``app``."""
    spend = typer.Typer(help="Spend reports from the spend log database.", no_args_is_help=True)

    @spend.command("report")
    def report(
        by: ByOption = "team",
        database_url: UrlOption = None,
        start: StartOption = None,
        end: EndOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Spend totals grouped by team, tag, model, key, customer, user, day or tag:<dimension>."""
        if by.startswith("tag:") and by[4:]:  # allocated per dimension value (ledgerlm.commands.tags)
            from ledgerlm.commands.tags import print_dimension_report

            span = (_parse_date(start, "--start"), _parse_date(end, "--end"))
            print_dimension_report(by[4:], database_url, span, as_json)
            return
        if by not in BY_CHOICES:
            raise typer.BadParameter(f"--by must be one of {', '.join(BY_CHOICES)}")
        rows = asyncio.run(
            fetch_report(by, database_url, _parse_date(start, "--start"), _parse_date(end, "--end"))
        )
        if as_json:
            typer.echo(json.dumps(report_json(rows), indent=2))
            return
        from rich.console import Console

        Console().print(render_table(by, rows))

    app.add_typer(spend, name="spend")
