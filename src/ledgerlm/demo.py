"""``python -m ledgerlm.demo`` (``make demo``): real HTTP round trips against the in-process simulator.

Starts the provider simulator on a free local port, then runs through the SDK: a plain completion, a
streamed one (sync), an async completion with cached and reasoning tokens, and an embedding. For each it
prints the model, the canonical usage (tokens), the cost (USD, or "unpriced") and the latency. Exits 0.
Later issues add steps (proxy, spend log) as more ``DemoStep`` functions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["DemoRow", "main", "run_sdk_demo"]

MESSAGES = [{"role": "user", "content": "Write one sentence about keeping a ledger of LLM spend."}]
SIM_MODELS: dict[str, dict[str, Any]] = {
    # knobs per model: a cached prompt and reasoning tokens on o3-mini, to show the canonical usage
    "o3-mini": {
        "prompt_tokens": 1200,
        "cached_tokens": 1024,
        "reasoning_tokens": 64,
        "completion_tokens": 96,
    },
}


@dataclass(slots=True)
class DemoRow:
    """One line of the demo table: what was called and what ledgerlm measured (tokens, USD, seconds)."""

    call: str
    model: str
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost: Decimal | None
    latency_s: float


def _row(call: str, ledger: Any, latency_s: float) -> DemoRow:
    usage = ledger.usage
    return DemoRow(
        call=call,
        model=ledger.record.requested_model,
        input_tokens=usage.input_tokens,
        cached_tokens=usage.cache_read_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cost=ledger.response_cost,
        latency_s=latency_s,
    )


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def run_sdk_demo(base_url: str) -> list[DemoRow]:
    """Run the SDK calls against an OpenAI-compatible ``base_url`` (the simulator's ``/v1``)."""
    import ledgerlm

    common: dict[str, Any] = {"api_base": base_url, "api_key": "sk-demo"}
    rows: list[DemoRow] = []
    resp, latency = _timed(lambda: ledgerlm.completion("openai/gpt-4o-mini", MESSAGES, **common))
    rows.append(_row("completion", resp.ledger, latency))

    def streamed() -> Any:
        stream = ledgerlm.completion("openai/gpt-4o-mini", MESSAGES, stream=True, **common)
        for _ in stream:
            pass
        return stream

    stream, latency = _timed(streamed)
    rows.append(_row("completion(stream=True)", stream.ledger, latency))

    async def reasoning() -> Any:
        return await ledgerlm.acompletion("openai/o3-mini", MESSAGES, **common)

    resp, latency = _timed(lambda: asyncio.run(reasoning()))
    rows.append(_row("acompletion", resp.ledger, latency))
    emb, latency = _timed(
        lambda: ledgerlm.embedding("openai/text-embedding-3-small", ["ledger", "spend"], **common)
    )
    rows.append(_row("embedding", emb.ledger, latency))
    return rows


def render(rows: list[DemoRow], console: Console) -> None:
    """Print ``rows`` as a table."""
    table = Table(title="ledgerlm SDK through the provider simulator (real HTTP)")
    for column in ("call", "model", "input", "cached", "output", "reasoning", "cost (USD)", "latency"):
        table.add_column(column, justify="left" if column in ("call", "model") else "right", no_wrap=True)
    for r in rows:
        table.add_row(
            r.call,
            r.model,
            str(r.input_tokens),
            str(r.cached_tokens),
            str(r.output_tokens),
            str(r.reasoning_tokens),
            "unpriced" if r.cost is None else f"{r.cost:f}",
            f"{r.latency_s * 1000:.1f} ms",
        )
    console.print(table)


def main() -> int:
    """Start the simulator, run the demo, print the table; returns the exit status (0)."""
    from ledgerlm.simulator import Simulator

    console = Console(width=max(Console().width, 130))
    with Simulator(models=SIM_MODELS) as sim:
        console.print(f"simulator listening on {sim.url}")
        rows = run_sdk_demo(f"{sim.url}/v1")
        render(rows, console)
        from ledgerlm.proxy.demo import run_proxy_demo  # the proxy part (issue 5)

        run_proxy_demo(sim.url, console, sim_models=sim.models, sim_billing=sim.state.billing)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
