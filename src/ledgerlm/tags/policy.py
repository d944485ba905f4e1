"""Tag policies: per dimension, what a request's tags must carry and what happens when they do not.

Config (``general_settings.tag_policies``), a team's or a key's ``metadata.tag_policies``::

    tag_policies:
      env:                                  # the dimension (tags "env:<value>" / "env=<value>")
        required: true                      # a request must carry a value (default false)
        allowed: [production, staging]      # allowed values: a list, or a regex string (full match)
        aliases: {prod: production}         # applied to values first
        default: staging                    # a fixed default value ...
        default_from: team.metadata.env     # ... or one read from key.metadata.X / team.metadata.X /
                                            #     metadata.X (the key's, else its team's)
        action: default                     # reject | default | quarantine (default: reject)
        weights: {production: 3, staging: 1}  # allocation weights when a call carries several values

Precedence, per dimension: the key's policy, else its team's, else the global one (``merge``).
``required_tags`` prefixes of the form ``dim:`` are the special case ``{required: true, action: reject}``.
Enforcement lives in ``ledgerlm.tags.enforce``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

__all__ = [
    "DIMENSION_NAME_RULE",
    "MAX_POLICY_DIMENSIONS",
    "DimensionPolicy",
    "Policies",
    "from_required_tags",
    "is_dimension_name",
    "merge",
    "parse_policies",
]

Action = Literal["reject", "default", "quarantine"]
MAX_POLICY_DIMENSIONS = 32
MAX_VALUE_CHARS = 128
_DEFAULT_FROM = re.compile(r"^(key\.|team\.)?metadata\.[A-Za-z0-9_.-]{1,64}$")


class DimensionPolicy(BaseModel):
    """The rule for one dimension (see the module docstring); immutable once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    required: bool = False
    allowed: list[str] | str | None = None
    aliases: dict[str, str] = Field(default_factory=dict)
    default: str | None = Field(default=None, min_length=1, max_length=MAX_VALUE_CHARS)
    default_from: str | None = None
    action: Action = "reject"
    weights: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("allowed")
    @classmethod
    def _allowed(cls, value: list[str] | str | None) -> list[str] | str | None:
        if isinstance(value, str):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"allowed: not a valid regular expression ({exc})") from None
        elif value is not None and not all(0 < len(v) <= MAX_VALUE_CHARS for v in value):
            raise ValueError(f"allowed: every value must be 1..{MAX_VALUE_CHARS} characters")
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: dict[str, str]) -> dict[str, str]:
        if not all(0 < len(v) <= MAX_VALUE_CHARS for v in value.values()):
            raise ValueError(f"aliases: every target must be 1..{MAX_VALUE_CHARS} characters")
        return value

    @field_validator("default_from")
    @classmethod
    def _default_from(cls, value: str | None) -> str | None:
        if value is not None and not _DEFAULT_FROM.match(value):
            raise ValueError(
                "default_from must be key.metadata.<field>, team.metadata.<field> or metadata.<field>"
            )
        return value

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        if not all(w.is_finite() and w > 0 for w in value.values()):
            raise ValueError("weights must be positive numbers")
        return value

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.allowed) if isinstance(self.allowed, str) else None

    def normalise(self, value: str) -> str:
        """The value after ``aliases`` (``prod`` -> ``production``)."""
        return self.aliases.get(value, value)

    def accepts(self, value: str) -> bool:
        """Whether ``value`` (already normalised) is allowed."""
        if self.allowed is None:
            return True
        if self._pattern is not None:
            return self._pattern.fullmatch(value) is not None
        return value in self.allowed

    def allowed_text(self) -> str:
        """The allowed values for an error message: ``'a', 'b'``, ``pattern '...'`` or ``any``."""
        if self.allowed is None:
            return "any"
        if isinstance(self.allowed, str):
            return f"pattern {self.allowed!r}"
        return ", ".join(repr(v) for v in self.allowed)

    def weight(self, value: str) -> Decimal:
        """The allocation weight of ``value`` (1 when not declared)."""
        return self.weights.get(value, Decimal(1))


Policies = dict[str, DimensionPolicy]
_ADAPTER: TypeAdapter[dict[str, DimensionPolicy]] = TypeAdapter(dict[str, DimensionPolicy])


def parse_policies(data: Any) -> Policies:
    """``{dimension: policy}`` from config or metadata; ``ValueError`` naming the first bad field."""
    if data is None:
        return {}
    try:
        policies = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ValueError(f"tag_policies.{where}: {first.get('msg')}") from None
    if len(policies) > MAX_POLICY_DIMENSIONS:
        raise ValueError(f"tag_policies: at most {MAX_POLICY_DIMENSIONS} dimensions")
    for name in policies:
        if not is_dimension_name(name):
            raise ValueError(f"tag_policies: {name!r} is not a dimension name ({DIMENSION_NAME_RULE})")
    return policies


DIMENSION_NAME_RULE = "1..64 printable characters, no ':' or '=', no surrounding spaces"


def is_dimension_name(name: str) -> bool:
    """Whether ``name`` can name a dimension (``DIMENSION_NAME_RULE``)."""
    return (
        0 < len(name) <= 64
        and name.isprintable()
        and ":" not in name
        and "=" not in name
        and name == name.strip()
    )


def merge(*layers: Mapping[str, DimensionPolicy]) -> Policies:
    """Per dimension, the last layer that defines it wins (global, team, key)."""
    out: Policies = {}
    for layer in layers:
        out.update(layer)
    return out


def from_required_tags(prefixes: list[str], policies: Policies) -> tuple[Policies, list[str]]:
    """Fold ``required_tags`` into ``policies``: each ``dim:`` prefix makes ``dim`` required (a new
    ``{required: true, action: reject}`` policy when none exists). Returns the policies and the prefixes
    that are not of that form (checked as plain prefixes)."""
    out = dict(policies)
    rest: list[str] = []
    for prefix in prefixes:
        dim = prefix[:-1].strip()
        if prefix.endswith(":") and dim and ":" not in dim and "=" not in dim:
            current = out.get(dim)
            out[dim] = (
                DimensionPolicy(required=True)
                if current is None
                else current.model_copy(update={"required": True})
            )
        else:
            rest.append(prefix)
    return out, rest
