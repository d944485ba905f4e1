"""The drift report's pure part on crafted calls: shares, invalid, new and near-duplicate values."""

from __future__ import annotations

from decimal import Decimal

from ledgerlm.tags.allocation import CallTags
from ledgerlm.tags.drift import dimension_drift, dimensions_in, near_duplicates, untagged_alerts
from ledgerlm.tags.policy import parse_policies


def test_near_duplicates() -> None:
    pairs = near_duplicates(["prod", "Prod", "prdo", "production", "staging", "stagin", "qa", "dev"])
    assert ["Prod", "prod"] in pairs and ["stagin", "staging"] in pairs
    assert ["prdo", "prod"] not in pairs  # a transposition is two edits
    assert all(a < b for a, b in pairs) and ["dev", "qa"] not in pairs


def test_dimension_drift_on_crafted_calls() -> None:
    policies = parse_policies({"env": {"allowed": ["prod", "dev"]}})
    calls = [
        CallTags(Decimal("4"), ["env:prod"], team_id="a"),
        CallTags(Decimal("2"), ["env:dev"], team_id="a", record={"defaulted": ["env"]}),
        CallTags(Decimal("1"), ["env:untagged"], team_id="b", record={"quarantined": {"env": "untagged"}}),
        CallTags(
            Decimal("1"),
            ["env:invalid"],
            team_id="b",
            record={"quarantined": {"env": "invalid"}, "invalid": {"env": ["prdo"]}},
        ),
        CallTags(Decimal("2"), ["other"], team_id=None),
        CallTags(None, ["env:Prod"], team_id="b"),
    ]
    entry = dimension_drift(calls, "env", {"prod"}, policies)
    assert entry["total_usd"] == Decimal("10")
    assert entry["untagged_share"] == Decimal("0.3")  # 1 quarantined untagged + 2 without any env
    assert entry["defaulted_share"] == Decimal("0.2") and entry["quarantined_share"] == Decimal("0.2")
    assert entry["invalid_values"] == ["Prod", "prdo"]
    assert entry["new_values"] == ["Prod", "dev"]
    assert entry["near_duplicates"] == [["Prod", "prod"]]
    teams = {row["team_id"]: row for row in entry["by_team"]}
    assert teams["a"]["total_usd"] == Decimal("6") and teams["a"]["defaulted_share"] == Decimal("0.3333")
    assert teams["b"]["untagged_share"] == Decimal("0.5") and teams[None]["untagged_share"] == Decimal("1")
    assert untagged_alerts([entry], Decimal("0.25")) == [
        {"dimension": "env", "untagged_share": Decimal("0.3"), "threshold": Decimal("0.25")}
    ]
    assert untagged_alerts([entry], Decimal("0.5")) == []
    assert dimensions_in(calls, parse_policies({"team": {}})) == ["team", "env"]
