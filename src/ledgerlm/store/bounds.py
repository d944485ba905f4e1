"""Bounded spend rows: nothing a client or an upstream sends can make a ``spend_logs`` row unstorable.

``bound_row(params)`` takes the DB-form parameters of one row (``SpendLog.to_params``) and makes every
value fit its column, on SQLite and PostgreSQL alike:

* strings longer than their ``VARCHAR(n)`` (a 500-character ``X-Forwarded-For``, a model name) are cut
  to ``n`` characters ending in ``TRUNCATION_MARKER``; ``request_id`` (the idempotency key) is cut to
  ``n - 17`` characters + ``~`` + 16 hex digits of its SHA-256, so two long ids never collide and a
  replay of the same row stays idempotent; NUL characters (PostgreSQL refuses them in text
  and ``jsonb``) become U+FFFD; tags are bounded like ``spend_log_tags.tag``;
* token counts outside ``0 .. MAX_TOKENS`` (an upstream reporting 2^63 tokens, a negative count) are
  clamped; ``spend`` above ``MAX_SPEND`` USD is clamped, a non-finite spend becomes unpriced (NULL).

Every change is listed in ``metadata["anomalies"]`` (``[{"field", "reason", "reported"}]``; the spend
API returns it with the row), so a clamped or truncated row is written AND flagged, never dropped.
``minimal_row(params, reason)`` is the last resort for a row the database still refuses: the money,
tokens and attribution columns only (so it counts toward every budget), flagged with the reason.

Limits: ``MAX_TOKENS`` (10^12 tokens) is far above any context window yet leaves room for millions of
such rows in a BIGINT daily sum; ``MAX_SPEND`` ($10^6 for one call) fits SQLite's 64-bit count of
1e-10 USD units (about $9.2 x 10^8 in all) and PostgreSQL's NUMERIC(24, 10).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa

from ledgerlm.store.tables import TOKEN_COLUMNS, spend_log_tags, spend_logs

__all__ = [
    "ANOMALIES",
    "MAX_SPEND",
    "MAX_TOKENS",
    "TRUNCATION_MARKER",
    "bound_row",
    "bound_text",
    "minimal_row",
]

ANOMALIES = "anomalies"
TRUNCATION_MARKER = "...[truncated]"
MAX_TOKENS = 10**12
MAX_SPEND = Decimal(10**6)
_REPORTED_CHARS = 64  # how much of a cut value the anomaly keeps (enough to recognise it)
_STRING_LIMITS: dict[str, int] = {
    column.name: int(column.type.length)
    for column in spend_logs.c
    if isinstance(column.type, sa.String) and column.type.length
}
_TAG_TYPE = spend_log_tags.c.tag.type
_TAG_LIMIT = int(_TAG_TYPE.length or 255) if isinstance(_TAG_TYPE, sa.String) else 255
_MINIMAL = (
    "request_id",
    "call_uid",
    "call_type",
    "api_key",
    "spend",
    *TOKEN_COLUMNS,
    "startTime",
    "endTime",
    "model",
    "model_id",
    "model_group",
    "custom_llm_provider",
    "user",
    "team_id",
    "organization_id",
    "end_user",
    "status",
    "price_id",
)


def bound_text(value: str, limit: int) -> str:
    """``value`` without NUL characters, cut to ``limit`` characters ending in the marker if longer."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if len(value) <= limit:
        return value
    keep = max(0, limit - len(TRUNCATION_MARKER))
    return value[:keep] + TRUNCATION_MARKER[: limit - keep]


def bound_id(value: str, limit: int) -> str:
    """An identifier cut to ``limit`` characters, kept unique by a digest of the whole value."""
    if len(value) <= limit and "\x00" not in value:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return value.replace("\x00", "\ufffd")[: limit - 17] + "~" + digest


def bound_row(params: dict[str, Any]) -> dict[str, Any]:
    """Make ``params`` (DB form, changed in place and returned) fit every column; list the changes in
    ``metadata["anomalies"]`` (see the module docstring)."""
    anomalies: list[dict[str, Any]] = []
    for name, limit in _STRING_LIMITS.items():
        value = params.get(name)
        if isinstance(value, str):
            bounded = bound_id(value, limit) if name == "request_id" else bound_text(value, limit)
            if bounded != value:
                anomalies.append(_anomaly(name, f"longer than {limit} characters or holds NUL", value))
                params[name] = bounded
    _bound_json(params, anomalies)
    _bound_tags(params, anomalies)
    _bound_tokens(params, anomalies)
    _bound_spend(params, anomalies)
    if anomalies:
        metadata = dict(params.get("metadata") or {})
        metadata[ANOMALIES] = [*(metadata.get(ANOMALIES) or []), *anomalies]
        params["metadata"] = metadata
    return params


def _anomaly(field: str, reason: str, reported: Any) -> dict[str, Any]:
    text = str(reported)
    shown = text if len(text) <= _REPORTED_CHARS else text[:_REPORTED_CHARS] + TRUNCATION_MARKER
    return {"field": field, "reason": reason, "reported": shown.replace("\x00", "\ufffd")}


_JSON_COLUMNS = ("metadata", "messages", "response")


def _without_nul(value: Any) -> Any:
    """``value`` (a JSON value) with every NUL in its strings and keys replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_nul(v) for v in value)
    return value


def _bound_json(params: dict[str, Any], anomalies: list[dict[str, Any]]) -> None:
    """NULs in the JSON columns become U+FFFD: PostgreSQL's ``json`` keeps ``\\u0000`` as sent, and any
    ``->>`` over such a row (``/spend/logs?request_id=<provider id>``) then fails for every query."""
    for name in _JSON_COLUMNS:
        value = params.get(name)
        if value is None or isinstance(value, str | int | float | bool):
            continue
        if not _may_hold_nul(value):
            continue
        cleaned = _without_nul(value)
        if cleaned != value:
            anomalies.append(_anomaly(name, "holds NUL", "\\u0000"))
            params[name] = cleaned


def _may_hold_nul(value: Any) -> bool:
    """False when ``value`` surely holds no NUL: one C-level encode and scan (orjson writes NUL as
    ``\\u0000``) instead of a Python walk of every row's JSON (issue 22: the spend row's hot path)."""
    try:
        encoded = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return True  # not encodable as is: walk it
    return b"\\u0000" in encoded


def _bound_tags(params: dict[str, Any], anomalies: list[dict[str, Any]]) -> None:
    tags = params.get("request_tags") or []
    bounded = list(dict.fromkeys(bound_text(str(tag), _TAG_LIMIT) for tag in tags))
    if bounded != tags:
        anomalies.append(_anomaly("request_tags", f"a tag longer than {_TAG_LIMIT} or holds NUL", len(tags)))
        params["request_tags"] = bounded


def _bound_tokens(params: dict[str, Any], anomalies: list[dict[str, Any]]) -> None:
    for name in TOKEN_COLUMNS:
        value = params.get(name)
        try:
            count = int(value or 0)
        except (TypeError, ValueError, OverflowError):
            anomalies.append(_anomaly(name, "not a token count", value))
            params[name] = 0
            continue
        if not 0 <= count <= MAX_TOKENS:
            anomalies.append(_anomaly(name, f"outside 0..{MAX_TOKENS} tokens; clamped", count))
            count = min(max(count, 0), MAX_TOKENS)
        params[name] = count


def _bound_spend(params: dict[str, Any], anomalies: list[dict[str, Any]]) -> None:
    spend = params.get("spend")
    if spend is None:
        return
    if not isinstance(spend, Decimal) or not spend.is_finite():
        anomalies.append(_anomaly("spend", "not a finite amount; stored as unpriced", spend))
        params["spend"] = None
    elif spend > MAX_SPEND:
        anomalies.append(_anomaly("spend", f"above {MAX_SPEND} USD for one call; clamped", spend))
        params["spend"] = MAX_SPEND


def minimal_row(params: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """The smallest storable form of a row the database refused: money, tokens and attribution kept
    (so it counts toward budgets and spend totals), everything else dropped, flagged with ``reason``."""
    row: dict[str, Any] = dict.fromkeys((column.name for column in spend_logs.c), None)  # every column
    row.update({name: params.get(name) for name in _MINIMAL})
    row["request_tags"] = []
    row["cache_hit"] = bool(params.get("cache_hit"))
    anomaly = _anomaly("*", "row refused by the database; stored without its details", reason)
    row["metadata"] = {ANOMALIES: [anomaly]}
    return bound_row(row)
