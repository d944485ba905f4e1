"""Small helpers shared by the usage mappings: tolerant integer and money readers."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["as_int", "as_money", "sub", "to_mapping"]


def to_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` as a mapping: dicts as-is, pydantic models via ``model_dump``, else ``{}``."""
    if isinstance(value, Mapping):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        dumped = dump()
        if isinstance(dumped, Mapping):
            return dumped
    return {}


def sub(usage: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The nested mapping ``usage[key]`` or ``{}`` when absent / null / not a mapping."""
    return to_mapping(usage.get(key))


def as_int(value: Any) -> int:
    """A token count: ints as-is, integral floats / numeric strings converted, anything else 0."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return max(0, value)
    try:
        return max(0, int(Decimal(str(value))))
    except (InvalidOperation, ValueError):
        return 0


def as_money(value: Any) -> Decimal | None:
    """A USD amount as ``Decimal`` (floats via their shortest repr), or ``None`` when not numeric."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return out if out.is_finite() else None
