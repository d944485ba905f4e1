"""``ledgerlm tags``: tag governance reports from the spend log database (``ledgerlm.tags``).

* ``ledgerlm tags drift --from YYYY-MM-DD --to YYYY-MM-DD [--dimension D] [--json] [--alert]``: the drift
  report (the JSON of ``GET /tags/drift``); exits 2 when an untagged share passes ``--threshold``. With
  ``--alert`` (needs ``--config``) each passing dimension is also sent through the config's alert
  channels (``budget_settings.alerts``), as the proxy's ``tag_drift`` alert, once per dimension and
  period: de-duplicated with the proxy and earlier runs (``ledgerlm.proxy.ops_alerts_cli``).
* ``ledgerlm tags report --dimension D [--start] [--end] [--json]``: spend allocated per value of D
  (the JSON of ``GET /global/spend/report?group_by=tag:D``); also ``ledgerlm spend report --by tag:D``.

``--config`` reads the proxy config for ``general_settings.tag_policies`` (allowed values, weights) and
``tag_drift_alert_threshold``. Money is printed as exact decimal strings (USD).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ledgerlm.tags.policy import Policies

UrlOption = Annotated[str | None, typer.Option("--database-url", help="Default: $DATABASE_URL.")]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="Proxy config (tag_policies).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DimensionOption = Annotated[str | None, typer.Option("--dimension", help="One dimension (default: all).")]


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{name} must be YYYY-MM-DD, got {value!r}") from exc


def _settings(config: Path | None) -> tuple[Policies, Decimal]:
    """Global tag policies (``required_tags`` folded in) and the drift alert threshold of ``config``."""
    from ledgerlm.tags.policy import from_required_tags, parse_policies

    if config is None:
        return {}, Decimal("0.2")
    from ledgerlm.proxy.config import load_config

    loaded = load_config(config)
    general = loaded.general_settings
    merged = {**loaded.litellm_settings.tag_policies, **general.tag_policies}  # general wins per dimension
    policies, _ = from_required_tags(general.required_tags, parse_policies(merged))
    return policies, Decimal(str(general.tag_drift_alert_threshold))


def _run(database_url: str | None, job: Callable[[AsyncEngine], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    from ledgerlm.commands.spend import _require_sqlite_file
    from ledgerlm.store.engine import create_engine, resolve_url

    async def main() -> dict[str, Any]:
        _require_sqlite_file(resolve_url(database_url))
        engine = create_engine(database_url)
        try:
            return await job(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _echo_json(data: Any) -> None:
    import orjson

    from ledgerlm.proxy.http import dumps

    typer.echo(orjson.dumps(orjson.loads(dumps(data)), option=orjson.OPT_INDENT_2).decode())


def _drift_table(report: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"Tag drift {report['from'] or '...'} to {report['to'] or '...'}")
    for name in (
        "dimension",
        "total (USD)",
        "untagged",
        "defaulted",
        "quarantined",
        "invalid",
        "new",
        "near dup.",
    ):
        table.add_column(name, overflow="fold")
    for d in report["dimensions"]:
        dups = ", ".join(f"{a}~{b}" for a, b in d["near_duplicates"])
        shares = (str(d[k]) for k in ("untagged_share", "defaulted_share", "quarantined_share"))
        invalid, new = ", ".join(d["invalid_values"]), ", ".join(d["new_values"])
        table.add_row(d["dimension"], str(d["total_usd"]), *shares, invalid, new, dups)
    return table


async def _send_drift(config: Path, report: dict[str, Any]) -> list[str]:
    """Send the report's drift alerts through ``config``'s channels; the dimensions sent now (others
    were already sent this period). Raises ``ConfigError`` without a channel."""
    from ledgerlm.proxy.config import load_config
    from ledgerlm.proxy.ops_alerts_cli import standalone_alerts

    alerts = standalone_alerts(load_config(config))
    try:
        alerts.drift(report)
    finally:
        await alerts.close()
    return [alert.subject for alert in alerts.sent]


def print_dimension_report(
    dimension: str,
    database_url: str | None,
    span: tuple[date | None, date | None],
    as_json: bool,
    config: Path | None = None,
) -> None:
    """Print the allocation report of ``dimension`` (used by ``tags report`` and ``spend report``);
    ``config`` gives the dimension's allocation ``weights`` (none: split evenly)."""
    from ledgerlm.store.spend_queries import LogFilter
    from ledgerlm.tags.report import dimension_report

    policies, _ = _settings(config)
    filters = LogFilter(start=span[0], end=span[1])
    report = _run(database_url, lambda engine: dimension_report(engine, dimension, policies, filters))
    if as_json:
        _echo_json(report)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Spend allocated by tag dimension {dimension!r} (adds up: {report['adds_up']})")
    for name in ("value", "spend (USD)", "spend (cents)", "requests", "unpriced"):
        table.add_column(name, justify="left" if name == "value" else "right")
    for row in [*report["data"], report["total"]]:
        cells = (row["spend"], row["spend_cents"], row["api_requests"], row["unpriced_requests"])
        table.add_row(str(row["group"]), *(str(c) for c in cells))
    Console().print(table)


def drift_command(
    start: Annotated[str, typer.Option("--from", help="First UTC day, YYYY-MM-DD (inclusive).")],
    end: Annotated[str, typer.Option("--to", help="Last UTC day, YYYY-MM-DD (inclusive).")],
    dimension: DimensionOption = None,
    database_url: UrlOption = None,
    config: ConfigOption = None,
    threshold: Annotated[float | None, typer.Option(help="Untagged share that alerts (0..1).")] = None,
    as_json: JsonOption = False,
    alert: Annotated[
        bool, typer.Option("--alert", help="Send the alerts through --config's alert channels.")
    ] = False,
) -> None:
    """Per dimension: untagged, defaulted, quarantined shares; invalid, new, near-duplicate values."""
    from ledgerlm.store.spend_queries import LogFilter
    from ledgerlm.tags.report import drift_report

    if alert and config is None:
        raise typer.BadParameter("--alert needs --config (its budget_settings.alerts channels)")
    policies, limit = _settings(config)
    limit = Decimal(str(threshold)) if threshold is not None else limit
    span = (_day(start, "--from"), _day(end, "--to"))
    sent: list[str] = []

    async def job(engine: AsyncEngine) -> dict[str, Any]:
        found = await drift_report(
            engine, policies, LogFilter(start=span[0], end=span[1]), dimension=dimension, threshold=limit
        )
        if alert and config is not None and found["alerts"]:
            sent.extend(await _send_drift(config, found))
        return found

    report = _run(database_url, job)
    _print_drift(report, limit, as_json, sent if alert else None)
    if report["alerts"]:
        raise typer.Exit(2)


def _print_drift(report: dict[str, Any], limit: Decimal, as_json: bool, sent: list[str] | None) -> None:
    """The report (JSON or a table with ALERT lines); with ``sent``, what each alert delivery did."""
    if as_json:
        _echo_json(report)
    else:
        from rich.console import Console

        Console().print(_drift_table(report))
        for entry in report["alerts"]:
            typer.echo(f"ALERT: {entry['dimension']} untagged share {entry['untagged_share']} > {limit}")
    if sent is None:
        return
    for entry in report["alerts"]:
        what = "sent" if entry["dimension"] in sent else "already sent for this period"
        typer.echo(f"alert {entry['dimension']}: {what}", err=True)


def register(app: typer.Typer) -> None:
    """Add the ``tags`` command group to ``app``."""
    tags = typer.Typer(help="Tag governance: drift and allocation reports.", no_args_is_help=True)

    tags.command("drift")(drift_command)

    @tags.command("report")
    def report(
        dimension: Annotated[str, typer.Option("--dimension", help="The tag dimension, e.g. env.")],
        start: Annotated[str | None, typer.Option("--start", help="First UTC day (inclusive).")] = None,
        end: Annotated[str | None, typer.Option("--end", help="Last UTC day (inclusive).")] = None,
        database_url: UrlOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Spend allocated per value of a dimension; the rows add up to the total."""
        print_dimension_report(dimension, database_url, (_day(start, "--start"), _day(end, "--end")), as_json)

    app.add_typer(tags, name="tags")
