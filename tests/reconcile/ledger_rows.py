"""Spend rows for reconciliation tests, priced by the real price catalog and written through the real
ingest path (``store.ingest.write_rows``) into a migrated database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ledgerlm.pricing import compile_price
from ledgerlm.store.engine import create_engine
from ledgerlm.store.ingest import write_rows
from ledgerlm.store.migrate import migrate
from ledgerlm.types import Usage


def spend_row(provider: str, model: str, when: datetime, usage: Usage, **extra: Any) -> dict[str, Any]:
    """A spool row (``SpendLog.from_record`` form) for one call of ``usage`` at ``when`` (aware UTC)."""
    cost = compile_price(provider, model, custom=extra.pop("custom", None)).cost(usage, at=when)
    return {
        "request_id": uuid.uuid4().hex,
        "call_type": "acompletion",
        "spend": None if cost.total is None else format(cost.total, "f"),
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "startTime": when.timestamp(),
        "endTime": when.timestamp(),
        "model": model,
        "custom_llm_provider": provider,
        "request_tags": [],
        "metadata": {"cost": cost.to_dict(), "usage": usage.to_dict(), "requested_model": model},
        "status": "success",
        **extra,
    }


def write_ledger(database_url: str, rows: Sequence[dict[str, Any]]) -> None:
    """Migrate ``database_url`` and write ``rows`` in one transaction."""
    migrate(database_url)

    async def run() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as conn:
                await write_rows(conn, rows)
        finally:
            await engine.dispose()

    asyncio.run(run())
