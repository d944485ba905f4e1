"""``SpendLog``: one ``spend_logs`` row built from a ``CallRecord``, in spool (JSON) form and DB form.

Spool form (``SpendLog.from_record``): a JSON-ready ``dict`` keyed by ``spend_logs`` column names:

* ``spend``: decimal string USD, or ``None`` when unpriced;
* ``startTime`` / ``endTime`` / ``completionStartTime``: UNIX epoch seconds (float);
* token counts: ints (canonical ``Usage`` meaning: ``prompt_tokens`` INCLUDES cache reads/writes,
  ``completion_tokens`` INCLUDES reasoning);
* ``metadata``: cost breakdown + price provenance (``cost``), canonical usage (``usage``), ``error``
  (type, status, message), and call facts (``requested_model``, ``stream``, ``retries``, ``latency_s``,
  ...). Compact: ``None``/zero/empty entries are left out (``usage`` lists only non-zero counts; an
  absent ``error`` means none). Always present: ``cost`` (with ``total`` and ``currency``), ``usage``,
  ``requested_model``, ``stream``, ``retries``, ``latency_s``, ``schema_version``;
* ``messages`` / ``response``: only when ``store_prompts`` is true, else ``None``;
* ``call_uid``: a server-unique nonce of the call (uuid4 hex), made once when the row enters the spool.
  A replay of the row (spool replay, writer retry) carries the same nonce and is written once; a
  DIFFERENT call reusing a client's ``request_id`` has another nonce and is written and charged too
  (``store.ingest``).

``price_id``: the price book entry the call was priced with (``None`` when unpriced), the one
reference behind ``metadata.cost``'s source / model_ref / tier / data_version (kept readable there).

DB form (``SpendLog.to_params``): the same dict with ``Decimal`` spend and aware UTC datetimes, every
value bounded to its column (``store.bounds``: cut strings, clamped counts, flagged in
``metadata.anomalies``).
``api_key`` is always a SHA-256 hex digest: a raw key passed by mistake is hashed here, never stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ledgerlm.record import CallRecord
from ledgerlm.redaction import scrub
from ledgerlm.store.bounds import bound_row, bound_text
from ledgerlm.store.coltypes import exact_decimal
from ledgerlm.store.keys import hash_key
from ledgerlm.store.tables import TOKEN_COLUMNS, spend_logs

ROW_VERSION = 1
MAX_ERROR_MESSAGE_CHARS = 2000  # an upstream error message longer than this is cut (with a marker)
TIME_COLUMNS = ("startTime", "endTime", "completionStartTime")
_COLUMNS: tuple[str, ...] = tuple(column.name for column in spend_logs.c)
_DEFAULTS: dict[str, Any] = {**dict.fromkeys(TOKEN_COLUMNS, 0), "cache_hit": False}
_BLANK: dict[str, Any] = {name: _DEFAULTS.get(name) for name in _COLUMNS}


_ALWAYS = ("cost", "usage", "requested_model", "stream", "retries", "latency_s", "schema_version")


def _set(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without ``None``, zero and empty entries (a compact, lossless record)."""
    return {k: v for k, v in values.items() if v is not None and v != 0 and v != {} and v != []}


def _metadata(data: Mapping[str, Any], *, store_prompts: bool) -> dict[str, Any]:
    """The ``metadata`` column: every call fact not in a column, compact (absent = none / zero)."""
    error = data.get("error")
    if error is not None and not store_prompts:
        error = {k: error.get(k) for k in ("type", "status", "message")}
    if error is not None:  # upstream error text may quote keys back: scrubbed like every logged string
        error = scrub(error)
        if isinstance(error.get("message"), str):
            error["message"] = bound_text(error["message"], MAX_ERROR_MESSAGE_CHARS)
    cost = data["cost"]
    facts = {
        "cost": {"total": cost["total"], "currency": cost["currency"], **_set(cost)},
        "usage": _set(data["usage"]),
        "response_cost": data.get("response_cost"),
        "error": error,
        "requested_model": data["requested_model"],
        "key_alias": data.get("key_alias"),
        "stream": data.get("stream", False),
        "retries": data.get("retries", 0),
        "latency_s": data.get("latency_s"),
        "time_to_first_token_s": data.get("time_to_first_token_s"),
        "finish_reasons": data.get("finish_reasons"),
        "response_id": data.get("response_id"),
        "response_model": data.get("response_model"),
        "request_metadata": data.get("metadata"),
        "schema_version": data.get("schema_version"),
    }
    return {k: v for k, v in facts.items() if k in _ALWAYS or v not in (None, {}, [])}


def _unique(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


class SpendLog:
    """Conversions between ``CallRecord``, spool rows and ``spend_logs`` parameters (see module doc)."""

    @staticmethod
    def from_record(
        record: CallRecord, *, store_prompts: bool, call_uid: str | None = None
    ) -> dict[str, Any]:
        """The spool row (JSON-ready dict) of ``record``; prompts/responses only with ``store_prompts``.

        ``call_uid``: the call's server-unique nonce (32 hex chars); a new uuid4 when not given, so
        call this once per call and spool (replay) the returned dict, never rebuild it."""
        data = record.model_dump(mode="json")
        usage = data["usage"]
        cost_total = data["cost"]["total"]
        return {
            "v": ROW_VERSION,
            "request_id": record.id,
            "call_type": record.call_type,
            "api_key": None if record.key_hash is None else hash_key(record.key_hash),
            "spend": cost_total,
            "prompt_tokens": usage["input_tokens"],
            "completion_tokens": usage["output_tokens"],
            "total_tokens": usage["input_tokens"] + usage["output_tokens"],
            "cache_read_input_tokens": usage["cache_read_tokens"],
            "cache_creation_input_tokens": usage["cache_write_tokens"],
            "reasoning_tokens": usage["reasoning_tokens"],
            "startTime": record.start_time,
            "endTime": record.end_time,
            "completionStartTime": record.first_token_time,
            "model": record.model,
            "model_id": record.deployment_id,
            "model_group": record.model_group,
            "custom_llm_provider": record.provider,
            "api_base": record.api_base,
            "user": record.user_id,
            "team_id": record.team_id,
            "organization_id": record.organization_id,
            "end_user": record.end_user,
            "request_tags": _unique(record.request_tags),
            "metadata": _metadata(data, store_prompts=store_prompts),
            "cache_hit": record.cache_hit,
            "status": record.status,
            "requester_ip_address": record.requester_ip,
            "messages": data.get("messages") if store_prompts else None,
            "response": data.get("response") if store_prompts else None,
            "call_uid": call_uid or uuid.uuid4().hex,
            "price_id": data["cost"].get("price_id"),
        }

    @staticmethod
    def to_params(row: Mapping[str, Any]) -> dict[str, Any]:
        """``spend_logs`` insert parameters from a spool row: ``Decimal`` spend, aware UTC datetimes.

        Raises ``KeyError``/``ValueError`` on a malformed row (the writer sets it aside).
        """
        params = {**_BLANK, **row}
        params.pop("v", None)
        if len(params) != len(_BLANK):  # unknown keys: keep the columns only
            params = {name: params[name] for name in _COLUMNS}
        if not params["request_id"] or params["status"] not in ("success", "failure"):
            raise ValueError("spend row needs a request_id and a status of success or failure")
        spend = row.get("spend")
        params["spend"] = None if spend is None else exact_decimal(str(spend))  # SQLite: 1e-10 at bind
        if params["spend"] is not None and params["spend"] < 0:
            raise ValueError(f"spend is negative: {spend}")
        for name in TIME_COLUMNS:
            value = row.get(name)
            params[name] = None if value is None else datetime.fromtimestamp(float(value), UTC)
        if params["api_key"] is not None:
            params["api_key"] = hash_key(str(params["api_key"]))
        tags = row.get("request_tags") or []
        if not isinstance(tags, list):
            raise ValueError(f"request_tags must be a list, got {type(tags).__name__}")
        params["request_tags"] = _unique([str(tag) for tag in tags if tag != ""])
        params["metadata"] = params["metadata"] or {}
        return bound_row(params)  # every value fits its column; changes flagged in metadata.anomalies
