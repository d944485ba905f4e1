"""``CustomLogger`` lives in ``ledgerlm.custom_logger`` (below both the callbacks and the exporters that
subclass it, so neither package imports the other's package); re-exported here."""

from ledgerlm.custom_logger import CustomLogger, is_async_hook, overrides

__all__ = ["CustomLogger", "is_async_hook", "overrides"]
