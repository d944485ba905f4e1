"""Reading spool segments for the writer: claim, read complete lines from a checkpoint, commit, delete.

``SegmentReader(spool).next_chunk(max_rows)`` returns the oldest unread lines: from the spool's own
active segment (no lock needed) or from a segment no live process holds (claimed with a non-blocking
``flock`` and kept until it is finished). ``read_after(chunk)`` reads ahead in the same segment while
``chunk`` is being written. Only complete lines (ending in ``\\n``) are returned; a torn last line of a
sealed segment is handed back as ``torn`` once the segment is otherwise done. ``commit(chunk)``
records the new offset in ``<segment>.ckpt`` and deletes a finished segment. Lines are raw bytes;
parsing happens in the writer, off the event loop.
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
    """Complete ``lines`` read from one segment between byte offsets ``start`` and ``end``."""

    path: Path
    start: int
    end: int
    lines: list[bytes] = field(default_factory=list)
    torn: bytes = b""  # an incomplete last line of a sealed segment (a write cut short)
    finished: bool = False  # sealed and nothing left after ``end``: delete on commit


def parse_lines(lines: list[bytes]) -> tuple[list[dict[str, Any]], list[bytes]]:
    """``(rows, bad lines)``: each line decoded as a JSON object, or set aside."""
    rows: list[dict[str, Any]] = []
    bad: list[bytes] = []
    for line in lines:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            rows.append(value)
        else:
            bad.append(line)
    return rows, bad


def _checkpoint_path(path: Path) -> Path:
    return path.with_name(path.name + CHECKPOINT_SUFFIX)


def _read_checkpoint(path: Path) -> int:
    try:
        return int(_checkpoint_path(path).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


class SegmentReader:
    """Tracks committed offsets and claimed segments of one spool directory (see module docstring)."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.own_lines_committed = 0
        self._offsets: dict[Path, int] = {}
        self._claims: dict[Path, int] = {}

    def remove_stale_checkpoints(self) -> int:
        """Delete ``.ckpt``/``.tmp`` side files whose segment is gone (a crash between the two
        deletions); returns how many were removed."""
        removed = 0
        segments = {path.name for path in self.spool.segments()}
        try:
            names = os.listdir(self.spool.directory)
        except OSError:
            return 0
        for name in names:
            for suffix in (CHECKPOINT_SUFFIX, ".tmp"):
                if name.endswith(suffix) and name.removesuffix(suffix) not in segments:
                    with contextlib.suppress(FileNotFoundError):
                        (self.spool.directory / name).unlink()
                        removed += 1
        return removed

    def next_chunk(self, max_rows: int) -> Chunk | None:
        """The next uncommitted lines (at most ``max_rows``), oldest segment first, or ``None``."""
        for path in self.spool.segments():
            active = path == self.spool.active_segment
            if not active and not self._claim(path):
                continue
            start = self._offsets.get(path)
            if start is None:
                start = self._offsets[path] = _read_checkpoint(path)
            chunk = self._read(path, start, max_rows)
            if chunk is not None:
                return chunk
        return None

    def read_after(self, chunk: Chunk, max_rows: int) -> Chunk | None:
        """The lines following ``chunk`` in its segment (read-ahead), or ``None``."""
        if chunk.finished:
            return None
        return self._read(chunk.path, chunk.end, max_rows)

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

    def _read(self, path: Path, start: int, max_rows: int) -> Chunk | None:
        sealed = path != self.spool.active_segment
        chunk = Chunk(path, start, start)
        try:
            with path.open("rb") as file:
                file.seek(start)
                while len(chunk.lines) < max_rows:
                    line = file.readline()
                    if not line.endswith(b"\n"):
                        if sealed:
                            chunk.finished = True
                            chunk.torn = line
                            chunk.end += len(line)
                        break
                    chunk.end += len(line)
                    chunk.lines.append(line)
        except FileNotFoundError:
            self._release(path)
            return None
        return chunk if chunk.lines or chunk.finished else None

    def commit(self, chunk: Chunk) -> None:
        """Mark ``chunk`` as written: advance the checkpoint, delete its segment when finished."""
        if self.spool.is_own(chunk.path):
            self.own_lines_committed += len(chunk.lines)
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
