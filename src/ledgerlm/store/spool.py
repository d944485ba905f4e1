"""Append-only local spool: spend rows hit the disk before the response is sent.

Layout: ``<directory>/<time_ns>-<pid>.jsonl`` segment files, one JSON object per line (a spool row,
``SpendLog.from_record`` form). ``Spool.append`` writes each line with a single ``os.write`` on an
``O_APPEND`` descriptor: once it returns, the row is in the kernel's page cache and survives the process
being killed (SIGKILL); with ``fsync=True`` it is also forced to the device (survives power loss,
~100x slower). A segment is sealed at ``max_segment_bytes`` and a new one started.

The appending process holds an exclusive ``flock`` on its active segment; a segment nobody holds (sealed,
or left by a dead process) may be claimed and replayed by any ``SpendWriter`` sharing the directory.
Each segment may have a ``.ckpt`` side file holding the byte offset already committed to the database.

Health: ``healthy()`` is ``False`` (``unhealthy_reason`` says why) when the directory cannot be created
or written, the last append failed, or free disk space is below ``min_free_bytes``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

logger = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".jsonl"
CHECKPOINT_SUFFIX = ".ckpt"
SEGMENT_NAME = re.compile(r"\d{20}-\d+\.jsonl")


class SpoolError(OSError):
    """A row could not be appended to the spool (directory unwritable, disk full, ...)."""


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def encode_row(row: Mapping[str, Any]) -> bytes:
    """One spool line: compact JSON (``Decimal`` as strings) and a trailing newline."""
    return orjson.dumps(row, default=_default, option=orjson.OPT_APPEND_NEWLINE)


class Spool:
    """The spool directory of one process (see module docstring).

    ``Spool(directory, fsync=False, max_segment_bytes=16 MiB, min_free_bytes=64 MiB)``. Creating it does
    no I/O beyond ``mkdir``; failures are reported by ``healthy()`` and by ``append`` raising ``SpoolError``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        fsync: bool = False,
        max_segment_bytes: int = 16 * 1024 * 1024,
        min_free_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.directory = Path(directory)
        self.fsync = fsync
        self.max_segment_bytes = max_segment_bytes
        self.min_free_bytes = min_free_bytes
        self.rows_appended = 0
        self.bytes_appended = 0
        self._fd: int | None = None
        self._active: Path | None = None
        self._active_size = 0
        self._own: set[str] = set()
        self._lock = threading.Lock()
        self._error: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._error = f"cannot create spool directory {self.directory}: {exc.strerror or exc}"

    # -- appending ---------------------------------------------------------------------------------

    def append(self, row: Mapping[str, Any]) -> None:
        """Write ``row`` as one line (sync, one ``os.write``). Raises ``SpoolError`` when it cannot."""
        line = encode_row(row)
        with self._lock:
            try:
                fd = self._fd if self._fd is not None and self._linked() else self._open_segment()
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(f"short write ({written} of {len(line)} bytes)")
                if self.fsync:
                    os.fsync(fd)
            except OSError as exc:
                self._fail(exc)
                raise SpoolError(f"spool append failed in {self.directory}: {exc}") from exc
            self._error = None
            self.rows_appended += 1
            self.bytes_appended += written
            self._active_size += written
            if self._active_size >= self.max_segment_bytes:
                self._close_segment()

    def _linked(self) -> bool:
        """False when the active segment was deleted under us (its rows would never be read)."""
        assert self._fd is not None
        if os.fstat(self._fd).st_nlink > 0:
            return True
        logger.error("spool segment %s was deleted while in use; starting a new one", self._active)
        self._close_segment()
        return False

    def _open_segment(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)  # recreate a directory removed at run time
        path = self.directory / f"{time.time_ns():020d}-{os.getpid()}{SEGMENT_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._fd, self._active, self._active_size = fd, path, 0
        self._own.add(path.name)
        return fd

    def _close_segment(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock: the segment is sealed
        self._fd, self._active, self._active_size = None, None, 0

    def _fail(self, exc: OSError) -> None:
        self._error = f"spool append failed in {self.directory}: {exc.strerror or exc}"
        logger.error("%s", self._error)
        self._close_segment()  # a torn line stays at the end of a sealed segment; readers skip it

    def rotate(self) -> None:
        """Seal the active segment; the next ``append`` starts a new one."""
        with self._lock:
            self._close_segment()

    def close(self) -> None:
        """Seal the active segment and release it (call at shutdown)."""
        self.rotate()

    # -- inspection --------------------------------------------------------------------------------

    @property
    def active_segment(self) -> Path | None:
        """The segment this process is appending to (``None`` before the first append)."""
        return self._active

    def is_own(self, path: Path) -> bool:
        """True when ``path`` was created by this ``Spool`` (its rows count in ``rows_appended``)."""
        return path.name in self._own

    def segments(self) -> list[Path]:
        """All segment files in the directory, oldest first (names sort by creation time)."""
        try:
            names = sorted(p for p in os.listdir(self.directory) if SEGMENT_NAME.fullmatch(p))
        except OSError:
            return []
        return [self.directory / name for name in names]

    def disk_bytes(self) -> int:
        """Bytes in all segment files (what is spooled and not yet deleted)."""
        total = 0
        for path in self.segments():
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                continue
        return total

    # -- health ------------------------------------------------------------------------------------

    def healthy(self) -> bool:
        """True when rows can be appended now (see module docstring); else ``unhealthy_reason`` says why."""
        return self.check() is None

    @property
    def unhealthy_reason(self) -> str | None:
        """Why the spool is unhealthy, or ``None``."""
        return self.check()

    def check(self) -> str | None:
        """Probe the directory (write + delete a small file) and free space; the reason or ``None``."""
        if not self.directory.is_dir():
            if self.directory.exists():
                return f"spool path {self.directory} is not a directory"
            return self._error or f"spool directory {self.directory} does not exist"
        probe = self.directory / f".probe-{os.getpid()}-{threading.get_ident()}"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            return f"spool directory {self.directory} is not writable: {exc.strerror or exc}"
        free = shutil.disk_usage(self.directory).free
        if free < self.min_free_bytes:
            return f"spool disk nearly full: {free // 2**20} MiB free < {self.min_free_bytes // 2**20} MiB"
        self._error = None  # the probe proved the directory writable again
        return None
