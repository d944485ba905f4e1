"""The drift report: how well a period's spend is tagged, per dimension (pure: calls in, JSON out).

Per dimension ``D`` (shares are fractions of the period's priced spend, 0 when it is 0)::

    {"dimension": D, "total_usd",
     "untagged_share":    spend of calls with no value of D (or only "D:untagged"),
     "defaulted_share":   spend of calls whose D value was a policy default,
     "quarantined_share": spend of calls quarantined on D (untagged or invalid),
     "invalid_values":    values a policy refused (recorded) or the global policy does not allow now,
     "new_values":        values seen in the period and never before it,
     "near_duplicates":   [[a, b], ...] values equal but for case/spacing, or one edit apart,
     "by_team": [{"team_id", "total_usd", "untagged_share", "defaulted_share", "quarantined_share"}]}

``alerts`` lists the dimensions whose untagged share passes the threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ledgerlm.tags.allocation import CallTags
from ledgerlm.tags.dimensions import split_tag, values_of
from ledgerlm.tags.enforce import INVALID, UNTAGGED
from ledgerlm.tags.policy import Policies

__all__ = ["dimension_drift", "dimensions_in", "near_duplicates", "untagged_alerts"]

SHARE = Decimal("0.0001")
MAX_VALUES_COMPARED = 1000


def dimensions_in(calls: Iterable[CallTags], policies: Policies) -> list[str]:
    """The governed dimensions, then every other dimension the calls' tags carry (sorted)."""
    seen = {parts[0] for call in calls for tag in call.tags if (parts := split_tag(tag)) is not None}
    return [*policies, *sorted(seen - set(policies))]


def _one_edit(a: str, b: str) -> bool:
    """Levenshtein distance exactly one (substitution, insertion or deletion)."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + 1 :] == b[i + 1 :] if len(a) == len(b) else a[i:] == b[i + 1 :]


def _squash(value: str) -> str:
    return "".join(value.casefold().split()).replace("-", "").replace("_", "")


def near_duplicates(values: Iterable[str]) -> list[list[str]]:
    """Pairs ``[a, b]`` (a < b) of distinct values equal ignoring case, spaces, ``-``/``_``, or one edit
    apart (at most the first 1000 values, sorted, are compared)."""
    ordered = sorted(set(values))[:MAX_VALUES_COMPARED]
    pairs = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if _squash(a) == _squash(b) or _one_edit(a, b):
                pairs.append([a, b])
    return pairs


def _share(part: Decimal, total: Decimal) -> Decimal:
    return (part / total).quantize(SHARE) if total else Decimal(0)


def _shares(calls: Sequence[CallTags], dim: str) -> dict[str, Any]:
    total = untagged = defaulted = quarantined = Decimal(0)
    for call in calls:
        spend = call.spend or Decimal(0)
        total += spend
        values = [v for v in values_of(call.tags, dim) if v != UNTAGGED]
        untagged += spend if not values else 0
        defaulted += spend if dim in call.record.get("defaulted", ()) else 0
        quarantined += spend if dim in call.record.get("quarantined", {}) else 0
    return {
        "total_usd": total,
        "untagged_share": _share(untagged, total),
        "defaulted_share": _share(defaulted, total),
        "quarantined_share": _share(quarantined, total),
    }


def _by_team(calls: Sequence[CallTags], dim: str) -> list[dict[str, Any]]:
    teams: dict[str | None, list[CallTags]] = {}
    for call in calls:
        teams.setdefault(call.team_id, []).append(call)
    rows = [{"team_id": team, **_shares(group, dim)} for team, group in teams.items()]
    rows.sort(key=lambda row: (-row["total_usd"], str(row["team_id"])))
    return rows


def _invalid(calls: Sequence[CallTags], dim: str, values: set[str], policies: Policies) -> list[str]:
    found = {v for call in calls for v in call.record.get("invalid", {}).get(dim, ())}
    policy = policies.get(dim)
    if policy is not None:
        found |= {v for v in values if v not in (UNTAGGED, INVALID) and not policy.accepts(v)}
    return sorted(found)


def dimension_drift(
    calls: Sequence[CallTags], dim: str, earlier: set[str], policies: Policies
) -> dict[str, Any]:
    """The drift entry of ``dim`` (see the module docstring)."""
    values = {v for call in calls for v in values_of(call.tags, dim)} - {UNTAGGED, INVALID}
    return {
        "dimension": dim,
        **_shares(calls, dim),
        "invalid_values": _invalid(calls, dim, values, policies),
        "new_values": sorted(values - earlier),
        "near_duplicates": [p for p in near_duplicates(values | earlier) if p[0] in values or p[1] in values],
        "by_team": _by_team(calls, dim),
    }


def untagged_alerts(dimensions: Sequence[Mapping[str, Any]], threshold: Decimal) -> list[dict[str, Any]]:
    """``[{"dimension", "untagged_share", "threshold"}]`` for each dimension whose untagged share is
    above ``threshold`` (a fraction, 0..1)."""
    return [
        {"dimension": d["dimension"], "untagged_share": d["untagged_share"], "threshold": threshold}
        for d in dimensions
        if d["untagged_share"] > threshold
    ]
