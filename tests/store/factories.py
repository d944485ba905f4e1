"""Test data for store tests: the ``Database`` under test, unique ids, realistic call records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.record import CallRecord, CostRecord, UsageRecord
from ledgerlm.store.engine import create_engine


@dataclass(frozen=True)
class Database:
    """A migrated test database: ``url`` plus the PostgreSQL ``search_path`` (schema) or ``None``."""

    kind: str
    url: str
    search_path: str | None = None

    def engine(self, **kwargs: Any) -> AsyncEngine:
        return create_engine(self.url, search_path=self.search_path, **kwargs)


def uid(prefix: str = "") -> str:
    """A unique id for test data (tests of several engineers share the PostgreSQL server)."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def make_record(**overrides: Any) -> CallRecord:
    """A realistic successful ``CallRecord`` (gpt-4o-mini prices: $0.15 / $0.60 per million tokens)."""
    fields: dict[str, Any] = {
        "id": uid("req-"),
        "call_type": "acompletion",
        "status": "success",
        "requested_model": "gpt-4o-mini",
        "model": "gpt-4o-mini-2024-07-18",
        "model_group": "gpt-4o-mini",
        "deployment_id": "dep-1",
        "provider": "openai",
        "api_base": "http://127.0.0.1:1/v1",
        "start_time": 1_764_410_000.25,
        "end_time": 1_764_410_001.5,
        "latency_s": 1.25,
        "usage": UsageRecord(input_tokens=1000, output_tokens=200, total_tokens=1200, cache_read_tokens=100),
        "cost": CostRecord(
            total="0.0002865",
            breakdown={"input": "0.000135", "cache_read": "0.0000075", "output": "0.00012"},
            source="catalog",
            model_ref="gpt-4o-mini",
            data_version="genai-prices test",
        ),
        "request_tags": ["env:test"],
        "messages": [{"role": "user", "content": "hello"}],
        "response": {"choices": [{"message": {"content": "hi"}}]},
    }
    fields.update(overrides)
    return CallRecord(**fields)


def cli_url(database: Database) -> str:
    """``database`` as one URL for the CLI (the schema as a ``search_path`` URL parameter)."""
    if database.search_path is None:
        return database.url
    return f"{database.url}?search_path={database.search_path}"
