"""A bounded on-disk overflow for exporters: JSON lines in segment files, replayed oldest first.

Layout: one directory per exporter holding ``{seq:012d}.jsonl`` segment files. New events are appended
to the open (highest-numbered) segment; a segment is sealed when it holds ``segment_events`` events or
when the replayer asks for the oldest one. Replay reads the oldest segment whole and deletes it only
after the backend accepted it, so a crash between send and delete resends that segment (backends
dedupe with the idempotency keys the exporters send).

Bounded: ``max_bytes`` caps the directory size; events that do not fit are refused (the caller counts
them as dropped). A line that cannot be decoded (a torn write at a crash) is skipped and counted in
``corrupt_lines``. Thread-safe: the caller's thread may spill while the exporter's worker replays.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

__all__ = ["DiskSpool"]

_SUFFIX = ".jsonl"


class DiskSpool:
    """Directory-backed FIFO of JSON events.

    * ``directory``: created on first write; existing segments (from a previous run) are replayed.
    * ``max_bytes``: size cap of all segments together (bytes).
    * ``segment_events``: events per segment (a replayed segment is sent in batches).
    """

    def __init__(self, directory: Path, *, max_bytes: int, segment_events: int = 500) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_events = max(1, segment_events)
        self.corrupt_lines = 0
        self._lock = threading.Lock()
        self._scanned = False
        self._size = 0
        self._open_seq = 0
        self._open_count = 0

    # -- bookkeeping ---------------------------------------------------------------------------------

    def _scan(self) -> None:
        """Pick up segments left by a previous process (called under the lock)."""
        if self._scanned:
            return
        self._scanned = True
        segments = self._segments()
        self._size = sum(p.stat().st_size for p in segments)
        self._open_seq = int(segments[-1].stem) + 1 if segments else 1
        self._open_count = 0

    def _segments(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.suffix == _SUFFIX and p.stem.isdigit())

    def _open_path(self) -> Path:
        return self.directory / f"{self._open_seq:012d}{_SUFFIX}"

    def _seal(self) -> None:
        if self._open_count:
            self._open_seq += 1
            self._open_count = 0

    # -- public API ----------------------------------------------------------------------------------

    @property
    def size_bytes(self) -> int:
        """Bytes held on disk."""
        with self._lock:
            self._scan()
            return self._size

    def is_empty(self) -> bool:
        """True when no segment is waiting."""
        with self._lock:
            self._scan()
            return self._size == 0 and not self._segments()

    def append(self, events: Sequence[Mapping[str, Any]]) -> int:
        """Append ``events`` in order; returns how many were written (the rest did not fit).

        Raises ``OSError`` when the directory cannot be written.
        """
        lines = [orjson.dumps(e) + b"\n" for e in events]
        written = 0
        with self._lock:
            self._scan()
            self.directory.mkdir(parents=True, exist_ok=True)
            while written < len(lines):
                room = self.segment_events - self._open_count
                chunk = lines[written : written + room]
                fitting: list[bytes] = []
                for line in chunk:
                    if self._size + len(line) > self.max_bytes:
                        break
                    fitting.append(line)
                    self._size += len(line)
                if fitting:
                    with self._open_path().open("ab") as fh:
                        fh.write(b"".join(fitting))
                    self._open_count += len(fitting)
                    written += len(fitting)
                if self._open_count >= self.segment_events:
                    self._seal()
                if len(fitting) < len(chunk):
                    break
        return written

    def oldest(self) -> tuple[Path, list[dict[str, Any]]] | None:
        """The oldest segment and its events, or ``None`` when the spool is empty.

        Seals the open segment when it is the oldest, so later appends go to a new one.
        """
        with self._lock:
            self._scan()
            segments = self._segments()
            if not segments:
                return None
            path = segments[0]
            if path == self._open_path():
                self._seal()
            raw = path.read_bytes()
        events: list[dict[str, Any]] = []
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                events.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                self.corrupt_lines += 1
        return path, events

    def remove(self, path: Path) -> None:
        """Delete a replayed segment (after the backend accepted it)."""
        with self._lock:
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                return
            self._size = max(0, self._size - size)
