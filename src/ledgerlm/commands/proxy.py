"""``ledgerlm proxy --config FILE [--host 127.0.0.1] [--port 4000] [--workers N]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledgerlm.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Add the ``proxy`` sub-command to ``app``."""

    @app.command("proxy")
    def proxy(
        config: Annotated[Path, typer.Option("--config", "-c", help="LiteLLM-style config.yaml")],
        host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port to bind")] = 4000,
        workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
        log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    ) -> None:
        """Run the OpenAI-compatible proxy with virtual keys, tags and spend logs."""
        from ledgerlm.proxy.server import serve

        try:
            serve(config, host=host, port=port, workers=workers, log_level=log_level)
        except ConfigError as exc:
            typer.echo(f"config error: {exc}", err=True)
            raise typer.Exit(2) from None
