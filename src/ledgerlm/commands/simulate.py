"""``ledgerlm simulate``: run the provider simulator in the foreground (Ctrl-C stops it)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""

    @app.command("simulate")
    def simulate(
        port: int = typer.Option(18080, help="TCP port to listen on (0: any free port)."),
        host: str = typer.Option("127.0.0.1", help="Address to bind (keep 127.0.0.1 unless needed)."),
        models: str = typer.Option(
            "", help='Path of a JSON file mapping model names to knobs, e.g. {"gpt-4o": {"latency_ms": 50}}.'
        ),
    ) -> None:
        """Serve the OpenAI, Azure, Anthropic, Gemini, Vertex AI and Bedrock formats (deterministic)."""
        import threading
        from pathlib import Path

        import orjson

        from ledgerlm.simulator import Simulator

        knobs = orjson.loads(Path(models).read_bytes()) if models else None
        sim = Simulator(host=host, port=port, models=knobs).start()
        typer.echo(
            f"ledgerlm simulator listening on {sim.url} (OpenAI base URL: {sim.url}/v1); Ctrl-C stops it"
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            sim.stop()
