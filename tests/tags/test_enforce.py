"""Tag policies applied to resolved tags: every action, aliases, defaults, precedence, required_tags."""

from __future__ import annotations

import pytest

from ledgerlm.errors import BadRequestError
from ledgerlm.tags.dimensions import canonical, split_tag, values_of
from ledgerlm.tags.enforce import enforce, metadata_lookup
from ledgerlm.tags.policy import from_required_tags, merge, parse_policies

NO_METADATA = metadata_lookup({}, {})


def _env(**rule: object) -> dict:
    return parse_policies(
        {"env": {"allowed": ["production", "staging"], "aliases": {"prod": "production"}, **rule}}
    )


@pytest.mark.parametrize(
    ("tag", "parts"),
    [
        ("env:prod", ("env", "prod")),
        ("env=prod", ("env", "prod")),
        ("X-Service: billing", ("X-Service", "billing")),
        ("url:http://x", ("url", "http://x")),
        ("nightly", None),
        (":x", None),
        ("env:", None),
        ("env: ", None),
    ],
)
def test_split_tag(tag: str, parts: tuple[str, str] | None) -> None:
    assert split_tag(tag) == parts


@pytest.mark.parametrize(
    ("tag", "stored"),
    [
        ("env=prod", "env:prod"),
        ("env = prod", "env:prod"),
        ("X-Service: a=b", "X-Service: a=b"),
        ("=x", "=x"),
    ],
)
def test_equals_tags_are_stored_canonical(tag: str, stored: str) -> None:
    assert canonical(tag) == stored


def test_values_of_keeps_order_and_dedupes() -> None:
    assert values_of(["env:a", "x", "env=b", "env:a", "team:t"], "env") == ["a", "b"]


def test_aliases_then_canonical_tags_in_place() -> None:
    decision = enforce(["app:x", "env=prod", "nightly"], _env(), NO_METADATA)
    assert decision.tags == ["app:x", "env:production", "nightly"]
    assert decision.record() == {}


def test_reject_names_the_dimension_and_the_allowed_values() -> None:
    with pytest.raises(BadRequestError) as info:
        enforce(["env:prdo"], _env(), NO_METADATA)
    err = info.value
    assert err.status_code == 400 and err.code == "tag_policy_violation" and err.param == "tags"
    assert "'env'" in err.message and "'prdo'" in err.message
    assert "'production', 'staging'" in err.message


def test_reject_missing_required_lists_every_dimension() -> None:
    policies = parse_policies({"env": {"required": True}, "team": {"required": True, "allowed": "^[a-z]+$"}})
    with pytest.raises(BadRequestError) as info:
        enforce(["other"], policies, NO_METADATA)
    assert "'env:'" in info.value.message and "'team:'" in info.value.message
    assert "pattern '^[a-z]+$'" in info.value.message


def test_default_fixed_applied_and_recorded() -> None:
    policies = _env(required=True, action="default", default="staging")
    decision = enforce(["a"], policies, NO_METADATA)
    assert decision.tags == ["a", "env:staging"] and decision.record() == {"defaulted": ["env"]}
    invalid = enforce(["env:bogus"], policies, NO_METADATA)
    assert invalid.tags == ["env:staging"]
    assert invalid.record() == {"defaulted": ["env"], "invalid": {"env": ["bogus"]}}
    kept = enforce(["env:prod", "env:bogus"], policies, NO_METADATA)  # a valid value stays, invalid dropped
    assert kept.tags == ["env:production"] and "defaulted" not in kept.record()


def test_default_from_key_then_team_metadata() -> None:
    policies = parse_policies(
        {"cc": {"required": True, "action": "default", "default_from": "metadata.cost_center"}}
    )
    from_key = enforce([], policies, metadata_lookup({"cost_center": "k1"}, {"cost_center": "t1"}))
    from_team = enforce([], policies, metadata_lookup({}, {"cost_center": "t1"}))
    assert from_key.tags == ["cc:k1"] and from_team.tags == ["cc:t1"]
    team_only = parse_policies({"cc": {"action": "default", "default_from": "team.metadata.cost_center"}})
    assert enforce([], team_only, metadata_lookup({"cost_center": "k1"}, {"cost_center": "t1"})).tags == [
        "cc:t1"
    ]


def test_default_without_a_usable_value_quarantines() -> None:
    policies = _env(required=True, action="default", default_from="metadata.env")
    decision = enforce([], policies, metadata_lookup({"env": "not-allowed"}, {}))
    assert decision.tags == ["env:untagged"] and decision.record() == {"quarantined": {"env": "untagged"}}


def test_quarantine_untagged_and_invalid() -> None:
    policies = _env(required=True, action="quarantine")
    assert enforce(["x"], policies, NO_METADATA).tags == ["x", "env:untagged"]
    decision = enforce(["env:bogus", "env:staging"], policies, NO_METADATA)
    assert decision.tags == ["env:staging", "env:invalid"]
    assert decision.record() == {"quarantined": {"env": "invalid"}, "invalid": {"env": ["bogus"]}}


def test_not_required_and_absent_changes_nothing() -> None:
    assert enforce(["x"], _env(action="quarantine"), NO_METADATA).tags == ["x"]


def test_merge_most_specific_wins_per_dimension() -> None:
    glob = parse_policies({"env": {"required": True}, "team": {"required": True}})
    key = parse_policies({"env": {"required": False}})
    merged = merge(glob, {}, key)
    assert merged["env"].required is False and merged["team"].required is True


def test_required_tags_are_a_policy() -> None:
    policies, rest = from_required_tags(
        ["team:", "env:", "legacy-"], parse_policies({"env": {"allowed": ["a"]}})
    )
    assert rest == ["legacy-"]
    assert policies["team"].required and policies["team"].action == "reject"
    assert policies["env"].required and policies["env"].allowed == ["a"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"env": {"action": "drop"}}, "tag_policies.env.action"),
        ({"env": {"allowed": "("}}, "not a valid regular expression"),
        ({"env": {"default_from": "os.environ"}}, "default_from"),
        ({"env": {"weights": {"a": 0}}}, "weights"),
        ({"env": {"unknown": 1}}, "tag_policies.env.unknown"),
        ({"e:v": {}}, "not a dimension name"),
    ],
)
def test_bad_policies_name_the_field(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_policies(data)


def test_config_tag_policies_are_checked_at_load() -> None:
    from ledgerlm.errors import LedgerLMError
    from ledgerlm.proxy.config import parse_config

    ok = parse_config({"general_settings": {"tag_policies": {"env": {"required": True}}}})
    assert ok.general_settings.tag_policies == {"env": {"required": True}}
    with pytest.raises((LedgerLMError, ValueError), match="tag_policies"):
        parse_config({"general_settings": {"tag_policies": {"env": {"action": "explode"}}}})
