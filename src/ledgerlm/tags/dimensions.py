"""Tag dimensions: a tag ``key:value`` (or ``key=value``) is the value ``value`` of dimension ``key``.

::

    "env:prod"            -> ("env", "prod")
    "env=prod"            -> ("env", "prod")
    "X-Service: billing"  -> ("X-Service", "billing")   (custom-header tags, spaces stripped)
    "nightly"             -> None                        (a plain tag, no dimension)

The separator is the first ``:`` or ``=``; the key and the value are stripped and must both be
non-empty (``":x"``, ``"env:"`` are plain tags). Dimension keys compare exactly (case-sensitive).
The proxy stores a ``key=value`` tag in the canonical form ``key:value`` (``canonical``), so that reports,
tag budgets and policies see one spelling of each value.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

__all__ = ["UNALLOCATED", "canonical", "dimension_tag", "split_tag", "values_of"]

UNALLOCATED = "unallocated"  # the allocation bucket of a call carrying no value of the dimension


@lru_cache(maxsize=8192)
def split_tag(tag: str) -> tuple[str, str] | None:
    """``(dimension, value)`` of a dimensional tag, ``None`` for a plain tag (see the module docstring).
    Memoised (the same tags come on every request; the cache is bounded)."""
    cut = tag.find(":")
    eq = tag.find("=")
    if eq >= 0 and (cut < 0 or eq < cut):
        cut = eq
    if cut <= 0:
        return None
    key, value = tag[:cut].strip(), tag[cut + 1 :].strip()
    if not key or not value:
        return None
    return key, value


def canonical(tag: str) -> str:
    """``"env = prod"`` -> ``"env:prod"``; any tag whose first separator is not ``=`` is returned as is."""
    eq = tag.find("=")
    if eq <= 0 or 0 <= tag.find(":") < eq:
        return tag
    parts = split_tag(tag)
    return tag if parts is None else dimension_tag(*parts)


def dimension_tag(dimension: str, value: str) -> str:
    """The canonical tag of a dimension value: ``"env", "prod"`` -> ``"env:prod"``."""
    return f"{dimension}:{value}"


def values_of(tags: Iterable[str], dimension: str) -> list[str]:
    """The values of ``dimension`` among ``tags``, in order, without duplicates."""
    seen: dict[str, None] = {}
    for tag in tags:
        parts = split_tag(tag)
        if parts is not None and parts[0] == dimension:
            seen.setdefault(parts[1], None)
    return list(seen)
