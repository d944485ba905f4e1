"""Normalising both sides to the same cells: model names, UTC days, amounts.

* ``model_key(name)``: lower-case, provider prefix dropped (``openai/gpt-4o`` -> ``gpt-4o``), a dated
  snapshot suffix dropped (``gpt-4o-2024-08-06`` -> ``gpt-4o``, ``claude-3-5-haiku-20241022`` ->
  ``claude-3-5-haiku``), so the ledger's requested name and the report's snapshot name meet.
* ``day_of_epoch(seconds)`` / ``day_of_rfc3339(text)``: the UTC day a bucket starts on.
* ``decimal_of(value)``: an exact ``Decimal`` from a JSON number or string (``ValueError`` otherwise).
* ``in_window(day, start, end)``: inclusive UTC days.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["day_of_epoch", "day_of_rfc3339", "decimal_of", "in_window", "model_key"]

_DATED = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-v\d+(:\d+)?)$")
_PREFIXES = ("openai/", "anthropic/", "openrouter/", "bedrock/", "vertex_ai/", "gemini/", "azure/")


def model_key(name: str | None) -> str:
    """The model name both sides are matched on (see module doc); ``""`` for none."""
    if not name:
        return ""
    text = name.strip().lower()
    stripped = True
    while stripped:
        stripped = False
        for prefix in _PREFIXES:
            if text.startswith(prefix):
                text, stripped = text[len(prefix) :], True
    if text.startswith("models/"):
        text = text[len("models/") :]
    for _ in range(2):
        text = _DATED.sub("", text)
    return text


def day_of_epoch(value: Any) -> date:
    """The UTC day of a UNIX time in seconds (``ValueError`` when not a number)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not an epoch time in seconds: {value!r}") from None
    return datetime.fromtimestamp(seconds, UTC).date()


def day_of_rfc3339(value: Any) -> date:
    """The UTC day of an RFC 3339 time (``2025-08-01T00:00:00Z``); ``ValueError`` when unreadable."""
    if not isinstance(value, str):
        raise ValueError(f"not an RFC 3339 time: {value!r}")
    text = value.strip().replace("Z", "+00:00").replace(" UTC", "+00:00")
    if len(text) == 10:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date()


def decimal_of(value: Any) -> Decimal:
    """An exact ``Decimal`` (a ``Decimal``, an int, a float by its shortest repr, a numeric string)."""
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, Decimal):
        return value
    try:
        amount = Decimal(str(value).strip()) if value is not None else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return amount


def in_window(day: date, start: date, end: date) -> bool:
    """True when ``start <= day <= end`` (inclusive UTC days)."""
    return start <= day <= end
