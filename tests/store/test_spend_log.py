"""SpendLog: CallRecord -> spool row -> database parameters, and the rows it refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from ledgerlm.record import CostRecord, ErrorRecord, UsageRecord
from ledgerlm.store import SpendLog
from ledgerlm.store.keys import generate_key, hash_key

from .factories import make_record


def test_spool_row_is_json_and_maps_every_field() -> None:
    key = generate_key()
    record = make_record(
        key_hash=hash_key(key),
        team_id="t1",
        user_id="u1",
        end_user="c1",
        organization_id="o1",
        requester_ip="10.0.0.1",
        first_token_time=1_764_410_000.75,
        usage=UsageRecord(
            input_tokens=1000,
            output_tokens=300,
            cache_read_tokens=100,
            cache_write_tokens=50,
            reasoning_tokens=80,
        ),
        request_tags=["a", "b", "a"],
        metadata={"trace": "x"},
    )
    row = SpendLog.from_record(record, store_prompts=False)
    assert orjson.loads(orjson.dumps(row)) == row  # JSON-ready as is
    expected = {
        "request_id": record.id,
        "api_key": hash_key(key),
        "spend": "0.0002865",
        "prompt_tokens": 1000,
        "completion_tokens": 300,
        "total_tokens": 1300,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 50,
        "reasoning_tokens": 80,
        "model": "gpt-4o-mini-2024-07-18",
        "model_id": "dep-1",
        "model_group": "gpt-4o-mini",
        "custom_llm_provider": "openai",
        "user": "u1",
        "team_id": "t1",
        "organization_id": "o1",
        "end_user": "c1",
        "request_tags": ["a", "b"],
        "status": "success",
        "requester_ip_address": "10.0.0.1",
        "messages": None,
        "response": None,
    }
    assert {name: row[name] for name in expected} == expected
    assert row["metadata"]["cost"]["breakdown"]["output"] == "0.00012"
    assert row["metadata"]["request_metadata"] == {"trace": "x"}
    params = SpendLog.to_params(row)
    assert params["spend"] == Decimal("0.0002865")
    assert params["startTime"] == datetime.fromtimestamp(1_764_410_000.25, UTC)
    assert params["completionStartTime"] == datetime.fromtimestamp(1_764_410_000.75, UTC)


def test_failure_error_body_kept_only_with_prompts() -> None:
    error = ErrorRecord(type="api_error", status=500, message="boom", provider_body={"echo": "secret prompt"})
    record = make_record(status="failure", error=error, cost=CostRecord())
    without = SpendLog.from_record(record, store_prompts=False)
    assert without["metadata"]["error"] == {"type": "api_error", "status": 500, "message": "boom"}
    assert "secret prompt" not in orjson.dumps(without).decode()
    with_prompts = SpendLog.from_record(record, store_prompts=True)
    assert with_prompts["metadata"]["error"]["provider_body"] == {"echo": "secret prompt"}
    assert without["spend"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "maybe"}, "status"),
        ({"request_id": ""}, "request_id"),
        ({"spend": "-0.01"}, "negative"),
        ({"request_tags": "env:prod"}, "list"),
        ({"startTime": "yesterday"}, "float"),
    ],
)
def test_malformed_rows_are_refused(change: dict[str, Any], message: str) -> None:
    row = {**SpendLog.from_record(make_record(), store_prompts=False), **change}
    with pytest.raises(ValueError, match=message):
        SpendLog.to_params(row)
