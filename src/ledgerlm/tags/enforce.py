"""Apply tag policies to one request's resolved tags (the proxy's tag step calls ``enforce``).

For each governed dimension ``D`` (in policy order)::

    values  = D's values among the tags, after aliases, without duplicates
    invalid = values the policy does not allow
    broken  = invalid values, or no value while ``required``
    not broken   -> tags kept (D's tags rewritten canonical "D:value"); with action ``default`` and no
                    value, the default is applied (and recorded) even when D is not required
    reject       -> ``BadRequestError`` 400 (code ``tag_policy_violation``) naming every broken dimension
                    and its allowed values; nothing is called upstream, nothing is charged
    default      -> invalid values dropped; no valid value left: the default ("D:<default>") applied and
                    recorded (no usable default: quarantined instead)
    quarantine   -> invalid values replaced by "D:invalid"; no value: "D:untagged"; recorded (the proxy's
                    tag step logs a warning, at most once a minute per dimension)

The decision's ``record()`` is stored in the spend row's metadata (``tag_policy``) for the drift report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledgerlm.errors import BadRequestError
from ledgerlm.tags.dimensions import dimension_tag, split_tag, values_of
from ledgerlm.tags.policy import DimensionPolicy, Policies

__all__ = ["INVALID", "RECORD_KEY", "UNTAGGED", "TagDecision", "enforce", "metadata_lookup"]

UNTAGGED = "untagged"
INVALID = "invalid"
RECORD_KEY = "tag_policy"  # the key of the decision in the spend row's request metadata

Lookup = Callable[[str], str | None]


@dataclass
class TagDecision:
    """The tags after policy, and what the policy did: ``defaulted`` dimensions, ``quarantined``
    ``{dimension: "untagged" | "invalid"}``, ``invalid`` ``{dimension: [values seen]}``."""

    tags: list[str]
    defaulted: list[str] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)
    invalid: dict[str, list[str]] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The compact record stored with the call (empty when the policy changed nothing)."""
        out: dict[str, Any] = {}
        if self.defaulted:
            out["defaulted"] = list(self.defaulted)
        if self.quarantined:
            out["quarantined"] = dict(self.quarantined)
        if self.invalid:
            out["invalid"] = {k: list(v) for k, v in self.invalid.items()}
        return out


def metadata_lookup(key_metadata: Mapping[str, Any], team_metadata: Mapping[str, Any]) -> Lookup:
    """``default_from`` resolver: ``key.metadata.X``, ``team.metadata.X``, ``metadata.X`` (key, else team).
    Only non-empty string values (up to 128 characters) count."""

    def lookup(path: str) -> str | None:
        scope, _, name = path.partition("metadata.")
        sources = {"key.": [key_metadata], "team.": [team_metadata], "": [key_metadata, team_metadata]}
        for source in sources.get(scope, []):
            value = source.get(name)
            if isinstance(value, str) and 0 < len(value.strip()) <= 128:
                return value.strip()
        return None

    return lookup


def _place(tags: Sequence[str], dim: str, values: Sequence[str]) -> list[str]:
    """``tags`` with every tag of ``dim`` replaced by the canonical ``dim:value`` tags, placed where the
    first tag of ``dim`` was (appended when there was none)."""
    out: list[str] = []
    placed = False
    for tag in tags:
        parts = split_tag(tag)
        if parts is not None and parts[0] == dim:
            if not placed:
                out.extend(dimension_tag(dim, v) for v in values)
                placed = True
            continue
        out.append(tag)
    if not placed:
        out.extend(dimension_tag(dim, v) for v in values)
    return list(dict.fromkeys(out))


def _default_value(policy: DimensionPolicy, lookup: Lookup) -> str | None:
    value = policy.default
    if policy.default_from is not None:
        value = lookup(policy.default_from) or value
    if value is not None:
        value = policy.normalise(value)
    return value if value is not None and policy.accepts(value) else None


def _violation(dim: str, policy: DimensionPolicy, invalid: Sequence[str]) -> str:
    allowed = policy.allowed_text()
    if invalid:
        bad = ", ".join(repr(v) for v in invalid)
        return f"dimension {dim!r}: value {bad} not allowed (allowed values: {allowed})"
    return f"missing required request tags: {dim + ':'!r} (dimension {dim!r}, allowed values: {allowed})"


def _one(
    tags: list[str], dim: str, policy: DimensionPolicy, lookup: Lookup, decision: TagDecision
) -> tuple[list[str], str | None]:
    """Apply one dimension's policy; returns the new tags and a violation message for ``reject``."""
    values = list(dict.fromkeys(policy.normalise(v) for v in values_of(tags, dim)))
    valid = [v for v in values if policy.accepts(v)]
    invalid = [v for v in values if not policy.accepts(v)]
    broken = bool(invalid) or (policy.required and not values)
    if invalid:
        decision.invalid[dim] = invalid
    if policy.action == "reject" and broken:
        return tags, _violation(dim, policy, invalid)
    if policy.action == "default" and not valid:
        default = _default_value(policy, lookup)
        if default is not None:
            decision.defaulted.append(dim)
            return _place(tags, dim, [default]), None
    if broken and not (policy.action == "default" and valid):
        mark = INVALID if invalid else UNTAGGED
        decision.quarantined[dim] = mark
        valid = [*valid, mark]
    return _place(tags, dim, valid), None


def enforce(tags: Sequence[str], policies: Policies, lookup: Lookup) -> TagDecision:
    """Apply ``policies`` to ``tags`` (see the module docstring). Raises ``BadRequestError`` (400,
    ``param="tags"``, code ``tag_policy_violation``) naming every dimension a ``reject`` policy refuses."""
    decision = TagDecision(tags=list(tags))
    problems: list[str] = []
    for dim, policy in policies.items():
        decision.tags, problem = _one(decision.tags, dim, policy, lookup, decision)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise BadRequestError(
            "request tags break the tag policy: "
            + "; ".join(problems)
            + " (send tags in metadata.tags, tags or the x-litellm-tags header)",
            param="tags",
            code="tag_policy_violation",
        )
    return decision
