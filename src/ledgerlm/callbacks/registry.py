"""The global callback lists and how one call's targets are chosen from them.

Four module-level lists (LiteLLM's names), exposed on the ``ledgerlm`` package as the SAME objects:

* ``callbacks``: ``CustomLogger`` instances (or plain functions) that see every event;
* ``success_callback`` / ``failure_callback``: see the success / failure terminal events only;
* ``input_callback``: see the pre-API-call event only.

Entries are ``CustomLogger`` instances or plain functions ``fn(kwargs, response, start_time,
end_time)`` (sync or ``async def``). Users may append to the lists or assign new lists
(``ledgerlm.success_callback = [fn]``): :func:`current_lists` reads the package attributes at each call
start, so both styles work. Per-call ``callbacks=[...]`` are added for that call only and never touch
these lists.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ledgerlm.custom_logger import CustomLogger
from ledgerlm.integrations import get_exporter

__all__ = [
    "Callback",
    "CallbackLists",
    "EventKind",
    "callbacks",
    "current_lists",
    "failure_callback",
    "input_callback",
    "success_callback",
    "targets_for",
]

Callback = Any
"""A ``CustomLogger`` instance or a callable ``fn(kwargs, response, start_time, end_time)``."""

EventKind = Literal["input", "success", "failure"]

logger = logging.getLogger("ledgerlm.callbacks")

callbacks: list[Callback] = []
success_callback: list[Callback] = []
failure_callback: list[Callback] = []
input_callback: list[Callback] = []

_LIST_NAMES: tuple[str, ...] = ("callbacks", "success_callback", "failure_callback", "input_callback")
_OWN: dict[str, list[Callback]] = {
    "callbacks": callbacks,
    "success_callback": success_callback,
    "failure_callback": failure_callback,
    "input_callback": input_callback,
}
_EVENT_LISTS: dict[EventKind, tuple[str, ...]] = {
    "input": ("callbacks", "input_callback"),
    "success": ("callbacks", "success_callback"),
    "failure": ("callbacks", "failure_callback"),
}


@dataclass(slots=True)
class CallbackLists:
    """A runtime's own four lists (LiteLLM's names), for a runtime that does not use the package's:
    ``callbacks`` (every event), ``success_callback``, ``failure_callback``, ``input_callback``."""

    callbacks: list[Callback] = field(default_factory=list)
    success_callback: list[Callback] = field(default_factory=list)
    failure_callback: list[Callback] = field(default_factory=list)
    input_callback: list[Callback] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[Callback]]:
        """The lists by name (the same list objects: appending to one shows in the next call)."""
        return {name: getattr(self, name) for name in _LIST_NAMES}


def current_lists() -> dict[str, list[Callback]]:
    """The four lists in effect now: a list assigned on the ``ledgerlm`` package wins over ours."""
    pkg = sys.modules.get("ledgerlm")
    found = vars(pkg) if pkg is not None else {}  # not getattr: no lazy-import hook, no exceptions
    out: dict[str, list[Callback]] = {}
    for name in _LIST_NAMES:
        value = found.get(name)
        out[name] = value if isinstance(value, list) else _OWN[name]
    return out


def targets_for(
    kind: EventKind, per_call: Sequence[Callback] | None, lists: Mapping[str, list[Callback]] | None = None
) -> tuple[Callback, ...]:
    """The callbacks that receive ``kind`` for one call: global lists then per-call, deduplicated.

    The same object registered twice (say in ``callbacks`` and ``success_callback``) receives an
    event once. Plain functions receive the input event only from ``input_callback``. Strings are
    LiteLLM's named integrations (``"langfuse"``, ``"otel"``, ``"file"`` ...): see :func:`named_logger`.
    """
    lists = lists if lists is not None else current_lists()
    sources: list[Iterable[Callback]] = [lists[name] for name in _EVENT_LISTS[kind]]
    if per_call:
        sources.append(per_call)
    if kind == "input":  # plain functions see the input event only from ``input_callback``
        sources = [
            source if source is lists["input_callback"] else [t for t in source if not is_plain_function(t)]
            for source in sources
        ]
    return _dedupe(sources)


def _dedupe(sources: Iterable[Iterable[Callback]]) -> tuple[Callback, ...]:
    seen: set[int] = set()
    out: list[Callback] = []
    for source in sources:
        for entry in tuple(source):
            target = named_logger(entry) if isinstance(entry, str) else entry
            if target is None or id(target) in seen:
                continue
            seen.add(id(target))
            out.append(target)
    return tuple(out)


_named: dict[str, Any] = {}
_named_lock = threading.Lock()


def named_logger(name: str) -> Any:
    """The exporter registered under ``name`` (``ledgerlm.integrations.get_exporter``, settings from
    the environment), built once on first use and shared by every list; ``None`` (with one warning)
    when the name is unknown or its settings are missing."""
    if name in _named:
        return _named[name]
    with _named_lock:
        if name not in _named:
            _named[name] = _build_named(name)
    return _named[name]


def _build_named(name: str) -> Any:
    try:
        return get_exporter(name, {})
    except Exception as exc:
        logger.warning("callback %r ignored: %s", name, exc)
        return None


def named_loggers() -> list[Any]:
    """The exporters built from names so far (for ``flush``)."""
    return [target for target in _named.values() if target is not None]


def forget_named() -> list[Any]:
    """Forget the exporters built from names (tests); returns them so the caller can close them."""
    with _named_lock:
        built = named_loggers()
        _named.clear()
    return built


def is_plain_function(target: Callback) -> bool:
    """True for a plain callable callback (not a ``CustomLogger``)."""
    return not isinstance(target, CustomLogger) and callable(target)
