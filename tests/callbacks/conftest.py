"""Fixtures of the callbacks tests: global callback state is reset around every test."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ledgerlm import redaction
from ledgerlm.callbacks import flush, registry
from ledgerlm.record import CallRecord


@pytest.fixture(autouse=True)
def clean_callbacks() -> Iterator[None]:
    """Empty the global lists, user redactors and message-logging switch before and after each test."""
    _reset()
    yield
    flush(timeout=5.0)
    _reset()


def _reset() -> None:
    for name, own in registry._OWN.items():
        own.clear()
        pkg = sys.modules.get("ledgerlm")
        if pkg is not None and isinstance(getattr(pkg, name, None), list) and getattr(pkg, name) is not own:
            restored = sys.modules["ledgerlm.callbacks"] if name == "callbacks" else own
            setattr(pkg, name, restored)
    for exporter in registry.forget_named():
        exporter.close(5)
    redaction.clear_redactors()
    redaction.set_message_logging(True)
    pkg = sys.modules.get("ledgerlm")
    if pkg is not None and getattr(pkg, "turn_off_message_logging", False):
        pkg.turn_off_message_logging = False  # type: ignore[attr-defined]


@pytest.fixture
def make_record() -> Any:
    """A factory of valid ``CallRecord`` objects (unique ids): ``make_record(status, **fields)``."""
    return _make_record


def _make_record(status: str = "success", **changes: Any) -> CallRecord:
    """A valid ``CallRecord`` of a call that just ended (unique id)."""
    now = time.time()
    values: dict[str, Any] = {
        "id": f"req-{uuid.uuid4().hex}",
        "call_type": "completion",
        "status": status,
        "requested_model": "openai/gpt-4o-mini",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "start_time": now - 0.5,
        "end_time": now,
        "latency_s": 0.5,
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
        "response_cost": "0.000123",
    }
    if status == "failure":
        values["error"] = {"type": "RateLimitError", "status": 429, "message": "slow down"}
    values.update(changes)
    return CallRecord.model_validate(values)
