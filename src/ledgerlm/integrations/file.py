"""File sink: one ``CallRecord`` JSON per line, rotated by date and by size, for data-warehouse loading.

Layout (UTC dates of the write, so a loaded day never changes afterwards)::

    {directory}/{YYYY-MM-DD}/{prefix}-{n:05d}.jsonl

A new file starts when the date changes or when the current file would pass ``max_file_bytes``. The
layout mirrors an object store's date-partitioned keys (LiteLLM's ``s3`` callback writes
``{prefix}/{date}/...``), so the folder can be synced to S3/GCS as is.

Settings (mapping key / env var): ``directory`` / ``LEDGERLM_FILE_SINK_DIR`` (required), ``prefix`` /
``LEDGERLM_FILE_SINK_PREFIX`` (default ``calls``), ``max_file_bytes`` / ``LEDGERLM_FILE_SINK_MAX_BYTES``
(default 100 MiB), plus the common batching settings (``ledgerlm.integrations.settings``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from ledgerlm.integrations.base import BatchingExporter
from ledgerlm.integrations.settings import BatchSettings, Lookup

__all__ = ["FileExporter"]


class FileExporter(BatchingExporter):
    """Append events as JSON lines under ``directory`` (see the module docstring for the layout).

    ``clock`` returns the current UTC time (tests pass a fake one to cross midnight).
    """

    name: ClassVar[str] = "file"

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str = "calls",
        max_file_bytes: int = 100 * 1024 * 1024,
        settings: BatchSettings | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(settings)
        self.directory = directory
        self.prefix = prefix
        self.max_file_bytes = max_file_bytes
        self._clock = clock or (lambda: datetime.now(UTC))
        self._date: str | None = None
        self._index = 0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None) -> FileExporter:
        """Build from config/env; raises ``ValueError`` without a directory."""
        look = Lookup(settings, env)
        directory = look.get_str("directory", "LEDGERLM_FILE_SINK_DIR")
        if not directory:
            raise ValueError("file sink: set `directory` or LEDGERLM_FILE_SINK_DIR")
        return cls(
            Path(directory),
            prefix=look.get_str("prefix", "LEDGERLM_FILE_SINK_PREFIX", default="calls") or "calls",
            max_file_bytes=look.get_int("max_file_bytes", "LEDGERLM_FILE_SINK_MAX_BYTES", default=100 << 20),
            settings=BatchSettings.from_settings(settings, env),
        )

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """Append the events (one JSON object per line); ``OSError`` is retried.

        Writes synchronously: this runs on the exporter's own loop and thread, never the caller's.
        """
        data = b"".join(orjson.dumps(e) + b"\n" for e in events)
        self._write(data)

    def _write(self, data: bytes) -> None:
        path = self._target(len(data))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as fh:
            fh.write(data)

    def _target(self, incoming: int) -> Path:
        """The file to append ``incoming`` bytes to: a new one on a new date or when full."""
        date = self._clock().strftime("%Y-%m-%d")
        if date != self._date:
            self._date = date
            self._index = self._last_index(date)
        path = self._path(date, self._index)
        if path.exists() and path.stat().st_size > 0 and path.stat().st_size + incoming > self.max_file_bytes:
            self._index += 1
            path = self._path(date, self._index)
        return path

    def _path(self, date: str, index: int) -> Path:
        return self.directory / date / f"{self.prefix}-{index:05d}.jsonl"

    def _last_index(self, date: str) -> int:
        """Continue after files a previous process wrote for ``date``."""
        folder = self.directory / date
        if not folder.is_dir():
            return 0
        indexes = [
            int(p.stem.rsplit("-", 1)[1])
            for p in folder.glob(f"{self.prefix}-*.jsonl")
            if p.stem.rsplit("-", 1)[1].isdigit()
        ]
        return max(indexes, default=0)
