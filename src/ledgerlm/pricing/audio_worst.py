"""Worst-case price of a transcription before it is sent, for budget admission: the audio's duration x
the model's per-second rate (``unit_prices.unit_rates``: ``audio_second``; whisper-1 $0.006/minute).

The duration is read from the file when that is cheap and exact: a WAV (RIFF) header gives the data
size and the byte rate (``seconds = data bytes / byte rate``). Any other container (mp3, m4a, ogg,
webm, flac ...) is bounded by its size at ``MIN_AUDIO_BYTES_PER_SECOND`` (6 kbit/s, Opus's lowest
speech bitrate, below every codec the OpenAI audio API accepts in practice), so the bound is never
below the real duration of a file the provider can decode. Seconds are rounded up.

``None`` when the model has no per-second rate (a token-priced model such as gpt-4o-transcribe: the
token price, or the ``unpriced_models`` rule, then applies).
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal

from ledgerlm.pricing.unit_prices import unit_rates
from ledgerlm.pricing.unit_worst import UnitWorstCase

__all__ = ["MIN_AUDIO_BYTES_PER_SECOND", "audio_seconds_bound", "transcription_worst_case"]

MIN_AUDIO_BYTES_PER_SECOND = 750  # 6 kbit/s


def _wav_seconds(data: bytes) -> float | None:
    """Seconds of a RIFF/WAVE file from its ``fmt `` byte rate and ``data`` size, else ``None``."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    offset, byte_rate = 12, 0
    while offset + 8 <= len(data):
        chunk, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        if chunk == b"fmt " and size >= 12 and offset + 20 <= len(data):
            byte_rate = struct.unpack_from("<I", data, offset + 16)[0]
        elif chunk == b"data":
            size = min(size, len(data) - offset - 8)  # a streamed WAV may claim 0xFFFFFFFF
            return size / byte_rate if byte_rate > 0 else None
        offset += 8 + size + (size & 1)
    return None


def audio_seconds_bound(data: bytes) -> int:
    """An upper bound of the audio's duration in whole seconds (module docstring), at least 1."""
    seconds = _wav_seconds(data)
    if seconds is None:
        seconds = len(data) / MIN_AUDIO_BYTES_PER_SECOND
    return max(1, math.ceil(seconds))


def transcription_worst_case(provider: str, model: str, data: bytes) -> UnitWorstCase | None:
    """The worst-case USD of transcribing ``data`` with ``provider``/``model`` (module docstring)."""
    per_second = unit_rates(provider, model).get("audio_second")
    if per_second is None:
        return None
    return UnitWorstCase(per_second * Decimal(audio_seconds_bound(data)))
