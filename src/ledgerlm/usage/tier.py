"""The service tier a request asked for prices the call when the reply does not name one.

OpenAI's ``service_tier`` request parameter (``"flex"``, ``"priority"``, ``"scale"``; ``"auto"`` and
``"default"`` leave the choice to the provider) changes the price; the reply normally echoes the tier
that served it (``service_tier`` in the body), and that one wins. When the reply names none (some
OpenAI-compatible servers, older snapshots, the Responses stream before completion), the tier the
request asked for is what the provider bills, so the ledger prices with it instead of the standard
rate (a silent under-count found by reconciliation: ``price_mismatch`` on flex traffic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgerlm.types import Usage

__all__ = ["PRICED_TIERS", "with_requested_tier"]

PRICED_TIERS: frozenset[str] = frozenset({"flex", "priority", "scale", "batch"})
"""Requested tiers that name a price of their own (``auto`` / ``default`` do not)."""


def with_requested_tier(usage: Usage, request: Mapping[str, Any] | None) -> Usage:
    """``usage`` with ``service_tier`` set from the request body when the reply named none."""
    if usage.service_tier or not request:
        return usage
    asked = request.get("service_tier")
    if isinstance(asked, str) and asked.lower() in PRICED_TIERS:
        return usage.replace(service_tier=asked.lower())
    return usage
