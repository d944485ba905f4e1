"""``ledgerlm prices``: show a model's catalog price (offline), refresh the catalog (network), and
``ledgerlm prices history MODEL``: the price book entries of a model (database), oldest first."""

from __future__ import annotations

from datetime import UTC, datetime

import typer


def show_price(provider: str, model: str) -> tuple[int, str]:
    """``(exit status, text)``: the catalog entry and rates for ``provider``/``model`` (0 found, 3 not,
    2 unknown provider)."""
    import json

    from ledgerlm.pricing import compile_price, resolve_model
    from ledgerlm.pricing.catalog import is_known_provider
    from ledgerlm.pricing.compiled import catalog_formula

    if not is_known_provider(provider):
        return 2, f"unknown provider {provider!r}"

    match = resolve_model(provider, model)
    price = compile_price(provider, model)
    if match is None:
        return 3, price.unpriced_reason or "unpriced"
    info = match.model
    current = info.prices if not isinstance(info.prices, list) else info.get_prices(_now())
    formula = catalog_formula(current)
    rates = {
        cat: {"per_unit": format(r.base, "f"), "tiers": [[t, format(p, "f")] for t, p in r.tiers]}
        for cat, r in formula.rates.items()
    }
    out = {"model_ref": match.model_ref, "data_version": price.data_version, "rates_usd": rates}
    return 0, json.dumps(out, indent=2)


def _now() -> datetime:
    return datetime.now(tz=UTC)


async def price_history_json(database_url: str | None, model: str) -> list[dict[str, object]]:
    """The price book entries of ``model`` as JSON-ready dicts (prices as decimal strings)."""
    from ledgerlm.commands.ledger_common import open_engine
    from ledgerlm.pricing.price_id import decimal_text
    from ledgerlm.store.price_book import price_history

    engine = open_engine(database_url)
    try:
        entries = await price_history(engine, model)
    finally:
        await engine.dispose()
    return [
        {
            "price_id": e.price_id,
            "model": e.model,
            "source": e.source,
            "effective_from": e.effective_from.isoformat(),
            "effective_to": None if e.effective_to is None else e.effective_to.isoformat(),
            "model_ref": e.model_ref,
            "data_version": e.data_version,
            "prices": {k: decimal_text(v) for k, v in e.prices.items()},
        }
        for e in entries
    ]


def register(app: typer.Typer) -> None:
    """Add the ``prices`` command group to ``app``."""
    group = typer.Typer(
        help="Price catalog: show a model's price, refresh the catalog.", no_args_is_help=True
    )
    app.add_typer(group, name="prices")

    @group.command("show")
    def show(provider: str, model: str) -> None:
        """Print the catalog rates (USD per unit) in effect now for PROVIDER MODEL."""
        status, text = show_price(provider, model)
        typer.echo(text, err=status != 0)
        raise typer.Exit(status)

    @group.command("history")
    def history(
        model: str,
        database_url: str | None = typer.Option(None, "--database-url", help="Default: $DATABASE_URL."),
    ) -> None:
        """The price book entries of MODEL ("provider/model" or a bare model name), as JSON."""
        import asyncio
        import json

        entries = asyncio.run(price_history_json(database_url, model))
        if not entries:
            typer.echo(f"no price book entries for {model!r}", err=True)
            raise typer.Exit(3)
        typer.echo(json.dumps(entries, indent=2))

    @group.command("update")
    def update(
        file: str | None = typer.Option(
            None, help="Where to write the data (default ~/.cache/ledgerlm/genai-prices.json)."
        ),
        url: str | None = typer.Option(None, help="Source URL (default: genai-prices' published data)."),
    ) -> None:
        """Download the latest genai-prices data (network). Use it with `ledgerlm cost --prices-file`."""
        from ledgerlm.pricing.data_file import default_prices_path, download_prices

        target = file or str(default_prices_path())
        try:
            count = download_prices(target, url=url)
        except (OSError, ValueError) as exc:
            typer.echo(f"price update failed: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"wrote {count} providers to {target}")
