"""The transcription worst case admission reserves (``pricing.audio_worst``): a WAV's duration from its
header, any other file bounded by its size at 6 kbit/s, x the per-second rate; None when unpriced."""

from __future__ import annotations

import struct
from decimal import Decimal

from ledgerlm.pricing.audio_worst import (
    MIN_AUDIO_BYTES_PER_SECOND,
    audio_seconds_bound,
    transcription_worst_case,
)
from ledgerlm.pricing.unit_prices import PER_UNIT_PRICES


def _wav(data_bytes: int, byte_rate: int, extra_chunk: bytes = b"") -> bytes:
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, byte_rate, byte_rate, 1, 8)
    body = b"WAVE" + b"fmt " + fmt + extra_chunk + b"data" + struct.pack("<I", data_bytes)
    return b"RIFF" + struct.pack("<I", len(body) + data_bytes) + body + b"\x80" * data_bytes


def test_wav_duration_from_its_header() -> None:
    assert audio_seconds_bound(_wav(16000 * 3, 16000)) == 3
    assert audio_seconds_bound(_wav(16000 * 3 + 1, 16000)) == 4  # rounded up
    odd_chunk = b"LIST" + struct.pack("<I", 3) + b"abc\0"  # odd-sized chunks are padded
    assert audio_seconds_bound(_wav(8000 * 5, 8000, odd_chunk)) == 5


def test_other_files_bounded_by_size() -> None:
    mp3 = b"ID3" + b"\0" * (MIN_AUDIO_BYTES_PER_SECOND * 10 - 3)
    assert audio_seconds_bound(mp3) == 10
    assert audio_seconds_bound(b"RIFF\0\0\0\0WAVE") == 1  # a header without data: at least one second
    assert audio_seconds_bound(b"") == 1


def test_priced_per_second_or_none() -> None:
    per_second = PER_UNIT_PRICES["whisper-1"]["audio_second"]
    worst = transcription_worst_case("openai", "whisper-1", _wav(8000 * 60, 8000))
    assert worst is not None and worst.max_cost(0, 0) == per_second * 60 == Decimal("0.006")
    assert transcription_worst_case("openai", "no-such-transcriber", b"x" * 1000) is None
