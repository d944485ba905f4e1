"""``ledgerlm reconcile``: the ledger against a provider's own bill, every difference explained.

::

    ledgerlm reconcile --config CONFIG.yaml --provider openai|anthropic|openrouter|bedrock|vertex
        --from YYYY-MM-DD --to YYYY-MM-DD (--report FILE [--report FILE ...] | --pull)
        [--tolerance 0.01] [--json] [--database-url URL] [--api-base URL]

``--from``/``--to`` are inclusive UTC days. ``--pull`` reads the admin key from the environment
(``OPENAI_ADMIN_KEY``, ``ANTHROPIC_ADMIN_KEY``, ``OPENROUTER_API_KEY``). Prints a table, or with
``--json`` the result object (``ledgerlm.ledger.reconcile.model.ReconcileResult.to_json``; money as
exact JSON numbers). Exit status: 0 total difference within tolerance, 4 beyond it, 2 bad input
(reason on stderr). See ``docs/reconciliation.md``.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

EXIT_OK, EXIT_BAD_INPUT, EXIT_DRIFT = 0, 2, 4


class BadInput(ValueError):
    """A reason for exit status 2."""


@dataclass(frozen=True, slots=True)
class Options:
    """The command's parsed options."""

    config: str | None
    provider: str
    start: str
    end: str
    reports: tuple[str, ...]
    pull: bool
    tolerance: str
    as_json: bool
    database_url: str | None
    api_base: str | None


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{name} must be a UTC day YYYY-MM-DD, got {value!r}") from None


def _tolerance(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0:
        raise BadInput(f"--tolerance must be a number >= 0 (a fraction: 0.01 = 1%), got {value!r}")
    return amount


def _job(options: Options) -> tuple[object, str | None]:
    from ledgerlm.ledger.reconcile.pull import ADMIN_KEY_ENV, PullRequest
    from ledgerlm.ledger.reconcile.service import PROVIDERS, ReconcileJob, accounts_from_config

    if options.provider not in PROVIDERS:
        raise BadInput(f"--provider must be one of {', '.join(PROVIDERS)}, got {options.provider!r}")
    if bool(options.reports) == options.pull:
        raise BadInput("pass either --report FILE (one or more) or --pull")
    start, end = _day(options.start, "--from"), _day(options.end, "--to")
    if end < start:
        raise BadInput(f"--to {end} is before --from {start}")
    database_url, accounts = options.database_url, {}
    if options.config is not None:
        from ledgerlm.proxy.config import load_config

        config = load_config(options.config)
        database_url = database_url or config.database_url
        accounts = accounts_from_config(config.model_list)
    pull = None
    if options.pull:
        env = ADMIN_KEY_ENV.get(options.provider)
        key = os.environ.get(env or "")
        if not env or not key:
            raise BadInput(f"--pull needs the admin key in ${env or 'ADMIN_KEY'} (or use --report FILE)")
        pull = PullRequest(options.provider, start, end, key, options.api_base, bool(accounts))
    job = ReconcileJob(
        options.provider, start, end, options.reports, pull, _tolerance(options.tolerance), accounts
    )
    return job, database_url


async def _run(options: Options) -> object:
    from ledgerlm.commands.spend import _require_sqlite_file
    from ledgerlm.ledger.reconcile.service import ReconcileJob, run
    from ledgerlm.store.engine import create_engine, resolve_url

    job, database_url = _job(options)
    assert isinstance(job, ReconcileJob)
    _require_sqlite_file(resolve_url(database_url))
    engine = create_engine(database_url)
    try:
        return await run(job, engine)
    finally:
        await engine.dispose()


def run_reconcile(options: Options) -> tuple[int, str]:
    """``(exit status, stdout text or the stderr reason)``: the testable body of the command."""
    from ledgerlm.errors import ConfigError
    from ledgerlm.ledger.reconcile.model import ReconcileResult, dumps
    from ledgerlm.ledger.reconcile.pull import PullError

    try:
        result = asyncio.run(_run(options))
    except (BadInput, ConfigError, PullError, FileNotFoundError) as exc:
        return EXIT_BAD_INPUT, str(exc)
    except ValueError as exc:  # ReportError and unreadable report values
        return EXIT_BAD_INPUT, str(exc)
    assert isinstance(result, ReconcileResult)
    status = EXIT_OK if result.within_tolerance else EXIT_DRIFT
    if options.as_json:
        return status, dumps(result.to_json()).decode()
    from io import StringIO

    from rich.console import Console

    from ledgerlm.ledger.reconcile.render import render_table, summary_line

    buffer = StringIO()
    console = Console(file=buffer, width=200)
    console.print(summary_line(result))
    console.print(render_table(result))
    return status, buffer.getvalue().rstrip("\n")


def register(app: typer.Typer) -> None:
    """Add ``reconcile`` to ``app``."""

    @app.command("reconcile")
    def reconcile(
        provider: Annotated[
            str, typer.Option("--provider", help="openai, anthropic, openrouter, bedrock, vertex.")
        ],
        start: Annotated[str, typer.Option("--from", help="First UTC day, YYYY-MM-DD (inclusive).")],
        end: Annotated[str, typer.Option("--to", help="Last UTC day, YYYY-MM-DD (inclusive).")],
        config: Annotated[
            str | None, typer.Option("--config", help="The proxy config (database, deployments).")
        ] = None,
        report: Annotated[
            list[str] | None, typer.Option("--report", help="A saved report: JSON pages or CSV.")
        ] = None,
        pull: Annotated[
            bool, typer.Option("--pull", help="Read the provider's admin API (key from env).")
        ] = False,
        tolerance: Annotated[
            str, typer.Option("--tolerance", help="Allowed drift, a fraction (0.01 = 1%).")
        ] = "0.01",
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
        database_url: Annotated[
            str | None, typer.Option("--database-url", help="Overrides the config's.")
        ] = None,
        api_base: Annotated[
            str | None, typer.Option("--api-base", help="Admin API base URL for --pull.")
        ] = None,
    ) -> None:
        """Reconcile the ledger with a provider's own bill and explain every difference."""
        options = Options(
            config,
            provider,
            start,
            end,
            tuple(report or ()),
            pull,
            tolerance,
            as_json,
            database_url,
            api_base,
        )
        status, text = run_reconcile(options)
        typer.echo(text, err=status == EXIT_BAD_INPUT)
        raise typer.Exit(status)
