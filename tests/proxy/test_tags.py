"""Tag resolution: ordered union, precedence of every source, limits and required prefixes."""

from __future__ import annotations

import pytest

from ledgerlm.errors import BadRequestError
from ledgerlm.proxy.tags import MAX_TAGS, TagResolver, parse_header_tags


def _resolve(
    body: dict, headers: dict, *, key=(), team=(), deployment=(), extra=(), required=()
) -> list[str]:
    resolver = TagResolver(extra, required)
    request_tags = resolver.from_request(body, headers)
    return resolver.resolve(request_tags, list(key), list(team), list(deployment), headers)


def test_every_source_in_order_without_duplicates() -> None:
    body = {"metadata": {"tags": ["m1", "shared"]}}
    headers = {"x-litellm-tags": "h1, shared ,h2", "x-service": "billing"}
    tags = _resolve(
        body, headers, key=["k1", "m1"], team=["t1"], deployment=["d1", "k1"], extra=["X-Service"]
    )
    assert tags == ["m1", "shared", "h1", "h2", "k1", "t1", "d1", "X-Service: billing"]


def test_root_tags_win_over_the_header() -> None:
    body = {"metadata": {"tags": ["m"]}, "tags": ["root"]}
    tags = _resolve(body, {"x-litellm-tags": "ignored"})
    assert tags == ["m", "root"]


def test_header_used_when_no_root_tags() -> None:
    assert _resolve({}, {"x-litellm-tags": "a,,b"}) == ["a", "b"]


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        ({"tags": "not-a-list"}, {}, "tags must be a list"),
        ({"tags": [1]}, {}, "must be a string"),
        ({"metadata": {"tags": ["x" * 129]}}, {}, "longer than 128"),
        ({"metadata": "str"}, {}, "metadata must be an object"),
        ({}, {"x-litellm-tags": "y" * 200}, "longer than 128"),
    ],
)
def test_bad_tags_are_400(body: dict, headers: dict, message: str) -> None:
    with pytest.raises(BadRequestError, match=message) as info:
        _resolve(body, headers)
    assert info.value.status_code == 400


def test_too_many_tags_after_union() -> None:
    body = {"tags": [f"t{i}" for i in range(MAX_TAGS)]}
    assert len(_resolve(body, {})) == MAX_TAGS
    with pytest.raises(BadRequestError, match="too many tags"):
        _resolve(body, {}, key=["one-more"])


def test_required_prefixes_name_the_missing_ones() -> None:
    assert _resolve({"tags": ["team:a", "env:prod"]}, {}, required=["team:", "env:"]) == [
        "team:a",
        "env:prod",
    ]
    with pytest.raises(BadRequestError) as info:
        _resolve({"tags": ["team:a"]}, {}, required=["team:", "env:", "cost-center:"])
    assert "'env:'" in info.value.message and "'cost-center:'" in info.value.message
    assert "'team:'" not in info.value.message


def test_required_tags_may_come_from_key_team_or_deployment() -> None:
    assert _resolve({}, {}, team=["team:x"], deployment=["env:dev"], required=["team:", "env:"]) == [
        "team:x",
        "env:dev",
    ]


def test_parse_header_tags() -> None:
    assert parse_header_tags(None) == []
    assert parse_header_tags(" a , b ") == ["a", "b"]


def test_step_records_the_policy_and_alerts_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    from ledgerlm.proxy.auth import KeyContext
    from ledgerlm.tags.policy import parse_policies
    from ledgerlm.types import CallContext

    resolver = TagResolver(policies=parse_policies({"env": {"required": True, "action": "quarantine"}}))
    key = KeyContext(
        token="h" * 64,
        metadata={"tag_policies": {"cc": {"required": True, "action": "default", "default": "x"}}},
    )
    contexts = [CallContext(request_id=f"r{i}", metadata={"tag_policy": "forged"}) for i in range(3)]
    with caplog.at_level("WARNING", logger="ledgerlm.tags"):
        for ctx in contexts:
            resolver.step(ctx, key, ["a"], [], {})
    assert contexts[0].request_tags == ["a", "env:untagged", "cc:x"]
    assert contexts[0].metadata == {"tag_policy": {"defaulted": ["cc"], "quarantined": {"env": "untagged"}}}
    assert len([r for r in caplog.records if "quarantined" in r.getMessage()]) == 1


def test_step_keeps_no_tags_on_reject() -> None:
    from ledgerlm.proxy.auth import KeyContext
    from ledgerlm.types import CallContext

    ctx = CallContext(request_id="r", request_tags=["team:x"])
    with pytest.raises(BadRequestError, match="'env:'"):
        TagResolver(required=["env:"]).step(ctx, KeyContext(token=None), ["team:x"], [], {})
    assert ctx.request_tags == []
