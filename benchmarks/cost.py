"""Per-call cost time: ``CompiledPrice.cost`` vs genai-prices ``calc_price`` (microseconds per call).

Run: ``.venv/bin/python benchmarks/cost.py``. Prints one line per deployment and the ratio.
"""

from __future__ import annotations

import timeit
from datetime import UTC, datetime

from genai_prices import Usage as GPUsage
from genai_prices import calc_price

from ledgerlm.pricing import compile_price
from ledgerlm.types import Usage

AT = datetime(2026, 11, 1, 12, tzinfo=UTC)

CASES: list[tuple[str, str, str, Usage]] = [
    # (ledgerlm provider, model, genai-prices provider id, usage)
    (
        "openai",
        "gpt-4o-2024-08-06",
        "openai",
        Usage(input_tokens=3897, cache_read_tokens=3840, output_tokens=75),
    ),
    (
        "anthropic",
        "claude-sonnet-4-5-20250929",
        "anthropic",
        Usage(input_tokens=1532, cache_read_tokens=1111, cache_write_tokens=418, output_tokens=33),
    ),
    (
        "gemini",
        "gemini-2.5-pro",
        "google",
        Usage(input_tokens=250_000, output_tokens=1000, reasoning_tokens=400),
    ),
    (
        "bedrock",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "aws",
        Usage(input_tokens=1324, cache_read_tokens=1322, output_tokens=5),
    ),
    (
        "deepseek",
        "deepseek-chat",
        "deepseek",
        Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=100),
    ),
]


def _per_call_us(fn: object, number: int) -> float:
    assert callable(fn)
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / number * 1e6


def main() -> None:
    print(f"{'deployment':<52} {'ledgerlm us':>12} {'calc_price us':>14} {'ratio':>7}")
    for provider, model, gp_provider, usage in CASES:
        price = compile_price(provider, model)
        gp_usage = GPUsage(
            input_tokens=usage.input_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            output_tokens=usage.output_tokens,
        )
        ours = price.cost(usage, at=AT)
        theirs = calc_price(gp_usage, model, provider_id=gp_provider, genai_request_timestamp=AT)
        assert ours.total == theirs.total_price, (model, ours.total, theirs.total_price)
        fast = _per_call_us(lambda p=price, u=usage: p.cost(u, at=AT), 20_000)
        slow = _per_call_us(
            lambda u=gp_usage, m=model, g=gp_provider: calc_price(
                u, m, provider_id=g, genai_request_timestamp=AT
            ),
            2_000,
        )
        print(f"{provider + '/' + model:<52} {fast:>12.2f} {slow:>14.2f} {slow / fast:>6.0f}x")


if __name__ == "__main__":
    main()
