"""LiteLLM's spend API shapes on the real proxy (SQLite and PostgreSQL, simulator upstream, the official
openai client): ``/spend/logs`` as a list (findable by the provider's response id, ``user_api_key_*``
metadata, daily summaries), ``/global/spend/report`` by day with LiteLLM's filters, ``/spend/tags``,
``/global/spend/tags``, the daily activity routes and ``/global/spend/reset``. Money: exact JSON numbers."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tests.e2e.conftest import Proxy
from tests.helpers.net import openai_client

MESSAGES: Any = [{"role": "user", "content": "shape me"}]
TODAY = datetime.now(UTC).date().isoformat()


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture(scope="module")
def traffic(proxy: Proxy) -> dict[str, Any]:
    """A team key and a user key, three calls each, with tags; the provider ids and our ids."""
    team_id = proxy.new_team(team_alias="shape-team")
    user_key = proxy.ok("POST", "/user/new", {"user_id": "shape-user"})["key"]
    keys = {"team": proxy.new_key(team_id=team_id), "user": user_key}
    calls: list[tuple[str, str, str]] = []
    for name, key in keys.items():
        with openai_client(proxy.url, key) as client:
            for _ in range(3):
                raw = client.chat.completions.with_raw_response.create(
                    model="priced",
                    messages=MESSAGES,
                    user="shape-eu",
                    extra_headers={"x-litellm-tags": f"shape:{name}"},
                )
                calls.append((name, raw.parse().id, raw.headers["x-request-id"]))
    proxy.wait_written()
    return {"team_id": team_id, "keys": keys, "calls": calls}


def test_spend_logs_is_a_list_with_litellm_metadata(proxy: Proxy, traffic: dict[str, Any]) -> None:
    key = traffic["keys"]["team"]
    rows = proxy.ok("GET", f"/spend/logs?api_key={key}")
    assert isinstance(rows, list) and len(rows) == 3
    for row in rows:
        meta = row["metadata"]
        assert meta["user_api_key"] == _sha(key) and meta["user_api_key_team_id"] == traffic["team_id"]
        assert meta["user_api_key_end_user_id"] == "shape-eu" and "call_uid" not in row
        assert isinstance(row["spend"], (int, float)) and row["spend"] > 0
    by_user = proxy.ok("GET", "/spend/logs?user_id=shape-user")
    assert {r["metadata"]["user_api_key_user_id"] for r in by_user} == {"shape-user"} and len(by_user) == 3


def test_request_id_finds_the_provider_response_id_too(proxy: Proxy, traffic: dict[str, Any]) -> None:
    _, provider_id, ours = traffic["calls"][0]
    assert provider_id != ours
    for wanted in (provider_id, ours):
        (row,) = proxy.ok("GET", f"/spend/logs?request_id={wanted}")
        assert row["request_id"] == ours and row["metadata"]["response_id"] == provider_id
    assert proxy.ok("GET", "/spend/logs?request_id=chatcmpl-nope") == []


def test_spend_logs_daily_summary(proxy: Proxy, traffic: dict[str, Any]) -> None:
    (day,) = proxy.ok("GET", f"/spend/logs?start_date={TODAY}&end_date={TODAY}&user_id=shape-user")
    rows = proxy.ok(
        "GET", f"/spend/logs?start_date={TODAY}&end_date={TODAY}&user_id=shape-user&summarize=false"
    )
    total = sum(Decimal(str(r["spend"])) for r in rows)
    assert day["startTime"] == TODAY and Decimal(str(day["spend"])) == total
    assert set(day["users"]) == {"shape-user"} and set(day["models"]) == {"priced"}


def test_global_spend_report_litellm_shape_and_filters(proxy: Proxy, traffic: dict[str, Any]) -> None:
    team_rows = proxy.ok("GET", f"/spend/logs?team_id={traffic['team_id']}")
    expected = sum(Decimal(str(r["spend"])) for r in team_rows)
    report = proxy.ok("GET", f"/global/spend/report?group_by=team&team_id={traffic['team_id']}")
    (day,) = report
    assert day["group_by_day"].startswith(TODAY)
    (team,) = day["teams"]
    assert team["team_name"] == "shape-team" and Decimal(str(team["total_spend"])) == expected
    assert {m["model"] for m in team["metadata"]} == {"priced"}
    assert {m["api_key"] for m in team["metadata"]} == {_sha(traffic["keys"]["team"])}
    by_key = proxy.ok("GET", f"/global/spend/report?group_by=api_key&api_key={traffic['keys']['user']}")
    assert [e["api_key"] for e in by_key[0]["api_keys"]] == [_sha(traffic["keys"]["user"])]
    customers = proxy.ok("GET", "/global/spend/report?group_by=customer&customer_id=shape-eu")
    assert [c["customer"] for c in customers[0]["customers"]] == ["shape-eu"]
    users = proxy.ok("GET", "/global/spend/report?group_by=team&internal_user_id=shape-user")
    assert all(not d["teams"] for d in users)  # the user's key belongs to no team


def test_spend_tags_lists(proxy: Proxy, traffic: dict[str, Any]) -> None:
    tags = {r["individual_request_tag"]: r for r in proxy.ok("GET", "/spend/tags")}
    assert tags["shape:team"]["log_count"] == 3 and tags["shape:team"]["total_spend"] > 0
    assert {r["individual_request_tag"] for r in proxy.ok("GET", "/global/spend/tags")} >= {
        "shape:team",
        "shape:user",
    }
    own = proxy.ok("GET", "/spend/tags", key=traffic["keys"]["team"])
    assert "shape:user" not in {r["individual_request_tag"] for r in own}


def test_daily_activity(proxy: Proxy, traffic: dict[str, Any]) -> None:
    dates = f"start_date={TODAY}&end_date={TODAY}"
    mine = proxy.ok("GET", f"/user/daily/activity?{dates}", key=traffic["keys"]["user"])
    (day,) = mine["results"]
    assert day["date"] == TODAY and day["metrics"]["api_requests"] == 3
    assert set(day["breakdown"]["models"]) == {"priced"} and list(day["breakdown"]["api_keys"]) == [
        _sha(traffic["keys"]["user"])
    ]
    assert mine["metadata"]["total_api_requests"] == 3 and mine["metadata"]["has_more"] is False
    team = proxy.ok("GET", f"/team/daily/activity?{dates}&team_ids={traffic['team_id']}")
    assert team["metadata"]["total_api_requests"] == 3
    tag = proxy.ok("GET", f"/tag/daily/activity?{dates}&tags=shape:team,shape:user")
    assert tag["metadata"]["total_api_requests"] == 6
    assert proxy.request("GET", "/user/daily/activity")[0] == 400


def test_money_is_an_exact_json_number(proxy: Proxy, traffic: dict[str, Any]) -> None:
    status, _, _ = proxy.request("GET", "/spend/logs")
    assert status == 200
    raw = proxy.ok("GET", f"/spend/logs?api_key={traffic['keys']['team']}")
    stored = {r["request_id"]: r["spend"] for r in proxy.rows(api_key=_sha(traffic["keys"]["team"]))}
    text = json.dumps(raw)
    for row in raw:
        assert Decimal(repr(row["spend"])) == stored[row["request_id"]]
    assert '"spend": "' not in text


def test_global_spend_reset_keeps_the_log(proxy: Proxy, traffic: dict[str, Any]) -> None:
    key = traffic["keys"]["team"]
    assert proxy.ok("GET", f"/key/info?key={key}")["info"]["spend"] > 0
    answer = proxy.ok("POST", "/global/spend/reset", {})
    assert answer["status"] == "success"
    assert proxy.ok("GET", f"/key/info?key={key}")["info"]["spend"] == 0
    assert proxy.ok("GET", f"/team/info?team_id={traffic['team_id']}")["team_info"]["spend"] == 0
    assert len(proxy.ok("GET", f"/spend/logs?api_key={key}")) == 3
