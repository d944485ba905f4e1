"""Helpers for the SDK tests, imported as ``sdk_helpers`` (a unique name: test dirs are not packages)."""

from __future__ import annotations

from typing import Any

import orjson

MESSAGES = [{"role": "user", "content": "Say hello to the ledger."}]


def knobs(**values: Any) -> dict[str, Any]:
    """``extra_headers`` carrying simulator knobs in the ``x-sim`` header, as SDK keyword arguments."""
    return {"extra_headers": {"x-sim": orjson.dumps(values).decode()}}
