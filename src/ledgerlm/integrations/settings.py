"""Exporter settings: config mapping first, then environment variables, then defaults.

Every exporter takes a ``Mapping`` of settings (from ``litellm_settings`` / ``callback_settings`` in the
proxy config, or from code) and reads the environment only for keys the mapping lacks. Keys common to
every batching exporter (all optional):

| key | env | default | meaning |
| --- | --- | --- | --- |
| ``batch_size`` | ``LEDGERLM_EXPORT_BATCH_SIZE`` | 100 | events per request |
| ``flush_interval_s`` | ``LEDGERLM_EXPORT_FLUSH_INTERVAL`` | 1.0 | seconds between flushes |
| ``max_queue`` | ``LEDGERLM_EXPORT_MAX_QUEUE`` | 10000 | in-memory events before spilling |
| ``max_retries`` | ``LEDGERLM_EXPORT_MAX_RETRIES`` | 5 | retries of one batch before spilling |
| ``backoff_initial_s`` / ``backoff_max_s`` | | 0.5 / 30 | exponential backoff bounds (seconds) |
| ``request_timeout_s`` | | 10 | one HTTP request (seconds) |
| ``spool_dir`` | ``LEDGERLM_EXPORT_SPOOL_DIR`` | none | on-disk overflow root (one sub-folder per exporter) |
| ``max_spool_bytes`` | | 256 MiB | on-disk overflow cap (bytes) |
| ``content_logging`` | ``LEDGERLM_CONTENT_LOGGING`` | false | ship messages/response |

``turn_off_message_logging: true`` (LiteLLM's name) forces content logging off.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BatchSettings", "Lookup"]

_TRUE = {"1", "true", "yes", "on"}


class Lookup:
    """Read a setting from the mapping, then from the environment (``env`` defaults to ``os.environ``)."""

    def __init__(self, settings: Mapping[str, Any], env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.env: Mapping[str, str] = env if env is not None else os.environ

    def get(self, key: str, *env_names: str, default: Any = None) -> Any:
        """``settings[key]`` if set, else the first env var set among ``env_names``, else ``default``."""
        value = self.settings.get(key)
        if value is not None:
            return value
        for name in env_names:
            env_value = self.env.get(name)
            if env_value not in (None, ""):
                return env_value
        return default

    def get_str(self, key: str, *env_names: str, default: str | None = None) -> str | None:
        """A string setting (or ``default``)."""
        value = self.get(key, *env_names, default=default)
        return None if value is None else str(value)

    def get_int(self, key: str, *env_names: str, default: int) -> int:
        """An integer setting; raises ``ValueError`` when it is not one."""
        return int(self.get(key, *env_names, default=default))

    def get_float(self, key: str, *env_names: str, default: float) -> float:
        """A float setting; raises ``ValueError`` when it is not one."""
        return float(self.get(key, *env_names, default=default))

    def get_bool(self, key: str, *env_names: str, default: bool = False) -> bool:
        """A boolean setting (``true``/``1``/``yes``/``on`` are true)."""
        value = self.get(key, *env_names, default=default)
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in _TRUE


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """Queue, batching, retry and overflow settings of one batching exporter (see module docstring)."""

    batch_size: int = 100
    flush_interval_s: float = 1.0
    max_queue: int = 10_000
    max_retries: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    request_timeout_s: float = 10.0
    spool_dir: Path | None = None
    max_spool_bytes: int = 256 * 1024 * 1024
    content_logging: bool = False

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None, **defaults: Any
    ) -> BatchSettings:
        """Build from a settings mapping and the environment; ``defaults`` override class defaults."""
        base = cls(**defaults)
        look = Lookup(settings, env)
        spool = look.get_str("spool_dir", "LEDGERLM_EXPORT_SPOOL_DIR")
        content = look.get_bool("content_logging", "LEDGERLM_CONTENT_LOGGING", default=base.content_logging)
        if look.get_bool("turn_off_message_logging", default=False):
            content = False
        return cls(
            batch_size=look.get_int("batch_size", "LEDGERLM_EXPORT_BATCH_SIZE", default=base.batch_size),
            flush_interval_s=look.get_float(
                "flush_interval_s", "LEDGERLM_EXPORT_FLUSH_INTERVAL", default=base.flush_interval_s
            ),
            max_queue=look.get_int("max_queue", "LEDGERLM_EXPORT_MAX_QUEUE", default=base.max_queue),
            max_retries=look.get_int("max_retries", "LEDGERLM_EXPORT_MAX_RETRIES", default=base.max_retries),
            backoff_initial_s=look.get_float("backoff_initial_s", default=base.backoff_initial_s),
            backoff_max_s=look.get_float("backoff_max_s", default=base.backoff_max_s),
            request_timeout_s=look.get_float("request_timeout_s", default=base.request_timeout_s),
            spool_dir=Path(spool) if spool else base.spool_dir,
            max_spool_bytes=look.get_int("max_spool_bytes", default=base.max_spool_bytes),
            content_logging=content,
        )
