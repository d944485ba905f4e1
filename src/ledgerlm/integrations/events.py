"""Turning a finished call into the event an exporter ships: the ``CallRecord`` JSON, content filtered.

Content (``messages`` / ``response``) leaves the process only when content logging is on, and every
string is scrubbed of secrets: both by ``ledgerlm.redaction.record_for_export``.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from ledgerlm.record import CallRecord

__all__ = [
    "CONTENT_FIELDS",
    "batch_key",
    "chunk_json_array",
    "event_uuid",
    "record_from_kwargs",
    "to_export_dict",
]

CONTENT_FIELDS: tuple[str, ...] = ("messages", "response")

_CACHE_SIZE = 64  # records in flight through the exporters at once; small: records may hold content
_cache: OrderedDict[tuple[int, bool], tuple[object, dict[str, Any]]] = OrderedDict()
_cache_lock = threading.Lock()

_NAMESPACE = uuid.UUID("5b0f1f5e-8d0c-4c9a-9a55-6c2f0d1e7a10")


def to_export_dict(record: CallRecord | Mapping[str, Any], *, content_logging: bool) -> dict[str, Any]:
    """The JSON form of ``record`` (amounts as decimal strings) with content only when enabled.

    Accepts a ``CallRecord`` or its JSON dict (``model_dump(mode="json")``); goes through
    ``ledgerlm.redaction.record_for_export`` (content policy and secret scrubbing). A dict that does not
    validate as a ``CallRecord`` (e.g. a newer schema) is scrubbed and stripped of content as is.

    The result is computed once per record object and content setting and SHARED by every exporter
    that receives the same record (scrubbing is the costly step): treat it as read-only.
    """
    key = (id(record), content_logging)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is record:
            return hit[1]
    out = _build_export_dict(record, content_logging)
    with _cache_lock:
        _cache[key] = (record, out)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return out


def _build_export_dict(record: CallRecord | Mapping[str, Any], content_logging: bool) -> dict[str, Any]:
    from ledgerlm import redaction

    if not isinstance(record, CallRecord):
        raw = dict(record)
        try:
            record = CallRecord.model_validate(raw)
        except ValidationError:
            if not content_logging:
                raw.update(dict.fromkeys(CONTENT_FIELDS))
            scrubbed: dict[str, Any] = redaction.scrub(raw)
            return scrubbed
    out = redaction.record_for_export(record, content_logging=content_logging)
    if not content_logging:
        for name in CONTENT_FIELDS:
            out[name] = None
    return out


def record_from_kwargs(kwargs: Mapping[str, Any]) -> CallRecord | Mapping[str, Any] | None:
    """The ``CallRecord`` (or its JSON dict) a callback hook received, or ``None``.

    The dispatcher puts it under ``kwargs["standard_logging_object"]`` (LiteLLM's key).
    """
    value = kwargs.get("standard_logging_object")
    if isinstance(value, CallRecord | Mapping):
        return value
    return None


def event_uuid(record_id: str, kind: str) -> str:
    """A stable UUID (string) for one event of one call: the same on every resend (idempotency)."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{record_id}"))


def batch_key(events: Sequence[Mapping[str, Any]]) -> str:
    """A stable idempotency key for a batch: SHA-256 hex of its event ids in order."""
    digest = hashlib.sha256()
    for event in events:
        digest.update(str(event.get("id", "")).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def chunk_json_array(items: Sequence[bytes], max_bytes: int) -> list[bytes]:
    """Join JSON-encoded ``items`` into JSON arrays (``[a,b,...]``) of at most ``max_bytes`` each.

    An item larger than ``max_bytes`` on its own gets an array of its own (the backend decides).
    """
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 2
    for item in items:
        if current and size + len(item) + 1 > max_bytes:
            chunks.append(b"[" + b",".join(current) + b"]")
            current, size = [], 2
        current.append(item)
        size += len(item) + 1
    if current:
        chunks.append(b"[" + b",".join(current) + b"]")
    return chunks
