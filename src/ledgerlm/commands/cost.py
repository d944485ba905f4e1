"""``ledgerlm cost FILE``: the usage and cost of a recorded response body or stream, as JSON.

Exit status: 0 priced, 3 unpriced, 2 bad input (reason on stderr).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

EXIT_PRICED, EXIT_BAD_INPUT, EXIT_UNPRICED = 0, 2, 3


def _money(value: Decimal | None) -> str | None:
    """A decimal string without exponent (``8E-8`` -> ``0.00000008``), or ``None``."""
    return None if value is None else format(value, "f")


def report_json(report: Any) -> dict[str, Any]:
    """The JSON object ``ledgerlm cost`` prints for a ``ledgerlm.pricing.CostReport``."""
    cost = report.cost
    usage = report.usage.to_dict() if report.usage is not None else None
    if usage is not None:
        usage["provider_cost"] = _money(report.usage.provider_cost)
    return {
        "provider": report.provider,
        "model": report.model,
        "usage": usage,
        "cost": {
            "total": _money(cost.total),
            "currency": cost.currency,
            "breakdown": {k: _money(v) for k, v in cost.breakdown.items()},
            "unpriced_reason": cost.unpriced_reason,
        },
        "price": {
            "source": cost.source,
            "model_ref": cost.model_ref,
            "tier": cost.tier,
            "data_version": cost.data_version,
        },
    }


def run_cost(
    file: str,
    provider: str | None,
    model: str | None,
    config: str | None,
    at: str | None,
    prices_file: str | None,
) -> tuple[int, str]:
    """``(exit status, stdout text or stderr reason)``; the testable body of the command."""
    import json

    from ledgerlm.errors import ConfigError
    from ledgerlm.pricing import NotAResponseError, price_report
    from ledgerlm.pricing.catalog import is_known_provider
    from ledgerlm.pricing.data_file import load_prices_file

    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        return EXIT_BAD_INPUT, f"cannot read {file}: {exc.strerror or exc}"
    if provider is not None and not is_known_provider(provider):
        return EXIT_BAD_INPUT, f"unknown provider {provider!r}"
    if config is not None and model is None:
        return EXIT_BAD_INPUT, "--config needs --model (a model_name of the config)"
    try:
        if prices_file:
            load_prices_file(prices_file)
        report = price_report(data, provider=provider, model=model, at=at, config=config)
    except (NotAResponseError, ConfigError, ValueError, OSError) as exc:
        return EXIT_BAD_INPUT, str(exc)
    out = json.dumps(report_json(report), indent=2)
    return (EXIT_PRICED if report.cost.priced else EXIT_UNPRICED), out


def register(app: typer.Typer) -> None:
    """Add the ``cost`` command to ``app``."""

    @app.command("cost")
    def cost(
        file: str = typer.Argument(
            ..., help="Recorded response body (JSON) or stream (SSE, JSON lines, AWS event stream)."
        ),
        provider: str | None = typer.Option(
            None, help="Provider (openai, anthropic, gemini, bedrock, ...); guessed when absent."
        ),
        model: str | None = typer.Option(None, help="Model id, or with --config a model_name of that file."),
        config: str | None = typer.Option(
            None, help="Proxy config YAML: the deployment's provider and custom prices apply."
        ),
        at: str | None = typer.Option(
            None, help="Call start time, ISO-8601 (default now): prices in effect then."
        ),
        prices_file: str | None = typer.Option(None, help="Price data written by `ledgerlm prices update`."),
    ) -> None:
        """Print a recorded response's usage and cost as JSON (exit 0 priced, 3 unpriced, 2 bad input)."""
        status, text = run_cost(file, provider, model, config, at, prices_file)
        typer.echo(text, err=status == EXIT_BAD_INPUT)
        raise typer.Exit(status)
