"""Encoder for the AWS binary event stream (``application/vnd.amazon.eventstream``).

Frame layout (AWS "Event stream encoding", as decoded by botocore's ``EventStreamBuffer``)::

    total length (uint32 BE) | headers length (uint32 BE) | prelude CRC32 (uint32 BE, over the 8 bytes)
    headers: name length (uint8) | name (UTF-8) | value type (uint8, 7 = string)
             | value length (uint16 BE) | value (UTF-8)
    payload bytes
    message CRC32 (uint32 BE, over everything before it)

``total length = 12 + headers length + payload length + 4``. Only string header values are written
(all Bedrock Runtime uses).
"""

from __future__ import annotations

import base64
import struct
from binascii import crc32
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["chunk_frame", "encode_frame", "event_frame", "exception_frame"]

_STRING = 7


def encode_frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream frame with string ``headers`` and ``payload`` (bytes), CRC32-protected."""
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack(">B", len(raw_name)) + raw_name
        encoded += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack(">I", crc32(message))


def event_frame(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """A ``:message-type: event`` frame with a JSON payload (ConverseStream events)."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_frame(headers, orjson.dumps(payload))


def chunk_frame(inner: Mapping[str, Any]) -> bytes:
    """An InvokeModelWithResponseStream ``chunk`` event: ``{"bytes": base64(JSON of inner)}``."""
    return event_frame("chunk", {"bytes": base64.b64encode(orjson.dumps(inner)).decode()})


def exception_frame(exception_type: str, message: str) -> bytes:
    """A ``:message-type: exception`` frame (e.g. ``throttlingException``) with ``{"message": ...}``."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_frame(headers, orjson.dumps({"message": message}))
