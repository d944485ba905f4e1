"""Reading spool segments for the writer: claim, read complete lines from a checkpoint, commit, delete.

``SegmentReader(spool).next_chunk(max_rows)`` returns the oldest readable lines: from the spool's own
active segment (no lock needed) or from a segment no live process holds (claimed with a non-blocking
``flock`` and kept until it is finished). Only complete lines (ending in ``\\n``) are returned; a torn
last line of a sealed segment is handed back as ``bad`` once the segment is otherwise done.
``commit(chunk)`` records the new offset in ``<segment>.ckpt`` and deletes a finished segment.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ledgerlm.store.spool import CHECKPOINT_SUFFIX, Spool

logger = logging.getLogger(__name__)


@dataclass
class Chunk:
    """Lines read from one segment: parsed ``rows``, undecodable ``bad`` lines, the offset after them."""

    path: Path
    start: int
    end: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: list[bytes] = field(default_factory=list)
    finished: bool = False  # sealed and nothing left after ``end``: delete on commit

    @property
    def lines(self) -> int:
        return len(self.rows) + len(self.bad)


def _checkpoint_path(path: Path) -> Path:
    return path.with_name(path.name + CHECKPOINT_SUFFIX)


def _read_checkpoint(path: Path) -> int:
    try:
        return int(_checkpoint_path(path).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class SegmentReader:
    """Tracks read offsets and claimed segments of one spool directory (see module docstring)."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.own_lines_committed = 0
        self._offsets: dict[Path, int] = {}
        self._claims: dict[Path, int] = {}

    def next_chunk(self, max_rows: int) -> Chunk | None:
        """The next lines to write (at most ``max_rows``), oldest segment first, or ``None``."""
        for path in self.spool.segments():
            active = path == self.spool.active_segment
            if not active and not self._claim(path):
                continue
            chunk = self._read(path, max_rows, sealed=not active)
            if chunk is not None:
                return chunk
        return None

    def _claim(self, path: Path) -> bool:
        if path in self._claims:
            return True
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._claims[path] = fd
        return True

    def _read(self, path: Path, max_rows: int, *, sealed: bool) -> Chunk | None:
        start = self._offsets.get(path)
        if start is None:
            start = self._offsets[path] = _read_checkpoint(path)
        chunk = Chunk(path, start, start)
        try:
            with path.open("rb") as file:
                file.seek(start)
                while chunk.lines < max_rows:
                    line = file.readline()
                    if not line.endswith(b"\n"):
                        if sealed:
                            chunk.finished = True
                            if line:
                                chunk.bad.append(line)
                                chunk.end += len(line)
                        break
                    chunk.end += len(line)
                    row = _parse(line)
                    chunk.rows.append(row) if row is not None else chunk.bad.append(line)
        except FileNotFoundError:
            self._release(path)
            return None
        return chunk if chunk.lines or chunk.finished else None

    def commit(self, chunk: Chunk) -> None:
        """Mark ``chunk`` as written: advance the checkpoint, delete its segment when finished."""
        if self.spool.is_own(chunk.path):
            self.own_lines_committed += chunk.lines
        if chunk.finished:
            for target in (chunk.path, _checkpoint_path(chunk.path)):
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
            self._release(chunk.path)
            return
        self._offsets[chunk.path] = chunk.end
        tmp = chunk.path.with_name(chunk.path.name + ".tmp")
        tmp.write_text(str(chunk.end))
        os.replace(tmp, _checkpoint_path(chunk.path))

    def _release(self, path: Path) -> None:
        self._offsets.pop(path, None)
        fd = self._claims.pop(path, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        """Release every claimed segment (unfinished ones stay on disk for the next writer)."""
        for path in list(self._claims):
            self._release(path)
