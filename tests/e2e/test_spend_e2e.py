"""Spend on the real proxy: per-key, team, user and end-user totals equal the sum of their rows; the
spend API filters, paginates and reports; a virtual key never sees another key's spend."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from tests.e2e.conftest import Proxy

MESSAGES = [{"role": "user", "content": "what does this cost"}]


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.fixture(scope="module")
def traffic(proxy: Proxy) -> dict[str, Any]:
    """Two teams with keys, a personal key, two end users; plain, streamed and failing calls."""
    team_a = proxy.new_team(team_alias="spend-a", tags=["team:a"])
    team_b = proxy.new_team(team_alias="spend-b", tags=["team:b"])
    # no /user/new: generating a key for an unknown user_id creates the user (as LiteLLM does)
    keys = {
        "a1": proxy.new_key(team_id=team_a, user_id="spend-user-1", key_alias="a1"),
        "a2": proxy.new_key(team_id=team_a, key_alias="a2", metadata={"tags": ["app:x"]}),
        "b1": proxy.new_key(team_id=team_b, user_id="spend-user-2", key_alias="b1"),
        "personal": proxy.new_key(user_id="spend-user-1", key_alias="personal"),
    }
    for index in range(12):
        name = list(keys)[index % 4]
        client = proxy.client(keys[name])
        end_user = f"spend-eu-{index % 2}"
        if index % 3 == 0:
            list(
                client.chat.completions.create(model="priced", messages=MESSAGES, stream=True, user=end_user)
            )
        else:
            client.chat.completions.create(
                model="priced",
                messages=MESSAGES,
                user=end_user,
                extra_headers={"x-litellm-tags": f"n:{index % 2}"},
            )
    try:
        proxy.client(keys["a1"]).chat.completions.create(model="broken", messages=MESSAGES, user="spend-eu-0")
    except Exception as exc:
        assert "500" in str(exc) or "Internal" in type(exc).__name__
    proxy.wait_written()
    return {"teams": {"a": team_a, "b": team_b}, "keys": keys}


def _sum(rows: list[dict[str, Any]], predicate: Any) -> Decimal:
    return sum((r["spend"] for r in rows if r["spend"] is not None and predicate(r)), Decimal(0))


def test_totals_equal_the_sum_of_rows(proxy: Proxy, traffic: dict[str, Any]) -> None:
    rows = proxy.rows()
    keys, teams = traffic["keys"], traffic["teams"]
    for key in keys.values():
        info = proxy.ok("GET", f"/key/info?key={key}")["info"]
        expected = _sum(rows, lambda r, k=key: r["api_key"] == _sha(k))
        assert expected > 0 and _dec(info["spend"]) == expected
    for team in teams.values():
        info = proxy.ok("GET", f"/team/info?team_id={team}")["team_info"]
        assert _dec(info["spend"]) == _sum(rows, lambda r, t=team: r["team_id"] == t) > 0
    for end_user in ("spend-eu-0", "spend-eu-1"):
        info = proxy.ok("GET", f"/customer/info?end_user_id={end_user}")
        assert _dec(info["spend"]) == _sum(rows, lambda r, e=end_user: r["end_user"] == e) > 0
    proxy.ok("POST", "/user/new", {"user_id": "spend-user-9", "auto_create_key": False})
    assert _dec(proxy.ok("GET", "/user/info?user_id=spend-user-9")["user_info"]["spend"]) == 0


def test_personal_spend_excludes_team_keys(proxy: Proxy, traffic: dict[str, Any]) -> None:
    rows = proxy.rows()
    personal = _sum(rows, lambda r: r["user"] == "spend-user-1" and r["team_id"] is None)
    info = proxy.ok("GET", "/user/info?user_id=spend-user-1")
    assert _dec(info["user_info"]["spend"]) == personal > 0
    assert _sum(rows, lambda r: r["user"] == "spend-user-1") > personal
    assert _dec(proxy.ok("GET", "/user/info?user_id=spend-user-2")["user_info"]["spend"]) == 0


def test_failure_row_is_logged_and_counted_as_failure(proxy: Proxy, traffic: dict[str, Any]) -> None:
    key = traffic["keys"]["a1"]
    data = proxy.ok("GET", f"/spend/logs/v2?api_key={key}&status=failure")["data"]
    assert len(data) == 1 and data[0]["model_group"] == "broken"
    assert _dec(data[0]["spend"]) == 0  # no usage: exactly $0, not "unpriced"


def test_spend_logs_filters_and_pagination(proxy: Proxy, traffic: dict[str, Any]) -> None:
    team_a = traffic["teams"]["a"]
    all_a = proxy.ok("GET", f"/spend/logs/v2?team_id={team_a}&page_size=1000")
    assert all_a["total"] == len(all_a["data"]) == len(proxy.rows(team_id=team_a))
    pages = [
        proxy.ok("GET", f"/spend/logs/v2?team_id={team_a}&page_size=2&page={p}")["data"] for p in (1, 2, 3, 4)
    ]
    ids = [r["request_id"] for page in pages for r in page]
    assert len(ids) == len(set(ids)) == all_a["total"]
    tagged = proxy.ok("GET", "/spend/logs/v2?tags=app:x&page_size=1000")["data"]
    assert tagged and all("app:x" in r["request_tags"] for r in tagged)
    by_end_user = proxy.ok("GET", "/spend/logs/v2?end_user=spend-eu-1&model=priced&page_size=1000")["data"]
    assert by_end_user and {r["end_user"] for r in by_end_user} == {"spend-eu-1"}
    assert proxy.request("GET", "/spend/logs/v2?start_date=yesterday")[0] == 400
    assert proxy.request("GET", "/spend/logs/v2?page_size=0")[0] == 400


def test_spend_tags_and_global_report(proxy: Proxy, traffic: dict[str, Any]) -> None:
    rows = proxy.rows()
    per_tag = {r["individual_request_tag"]: r for r in proxy.ok("GET", "/spend/tags")}
    expected_a = _sum(rows, lambda r: "team:a" in r["request_tags"])
    assert _dec(per_tag["team:a"]["total_spend"]) == expected_a > 0
    by_team = {r["group"]: r for r in proxy.ok("GET", "/global/spend/report/v2?group_by=team")["data"]}
    team_b = traffic["teams"]["b"]
    assert _dec(by_team[team_b]["spend"]) == _sum(rows, lambda r: r["team_id"] == team_b)
    assert by_team[team_b]["label"] == "spend-b"
    for group_by in ("customer", "api_key", "tag", "model", "day", "user"):
        assert proxy.ok("GET", f"/global/spend/report/v2?group_by={group_by}")["data"], group_by
    assert proxy.request("GET", "/global/spend/report/v2?group_by=planet")[0] == 400


def test_virtual_key_sees_only_its_own_spend(proxy: Proxy, traffic: dict[str, Any]) -> None:
    mine, other = traffic["keys"]["a2"], traffic["keys"]["b1"]
    data = proxy.ok("GET", "/spend/logs/v2?page_size=1000", key=mine)["data"]
    assert data and {r["api_key"] for r in data} == {_sha(mine)}
    assert proxy.ok("GET", f"/spend/logs/v2?team_id={traffic['teams']['b']}", key=mine)["data"] == []
    status, error, _ = proxy.request("GET", f"/spend/logs/v2?api_key={other}", key=mine)
    assert status == 403 and error["error"]["type"] == "permission_denied"
    report = proxy.ok("GET", "/global/spend/report/v2?group_by=api_key", key=mine)["data"]
    assert [r["group"] for r in report] == [_sha(mine)]
    tags = {r["individual_request_tag"] for r in proxy.ok("GET", "/spend/tags", key=mine)}
    assert "team:b" not in tags and "app:x" in tags
    per_team = defaultdict(Decimal)
    for r in proxy.ok("GET", "/global/spend/report/v2?group_by=team", key=mine)["data"]:
        per_team[r["group"]] += _dec(r["spend"])
    assert set(per_team) == {traffic["teams"]["a"]}
