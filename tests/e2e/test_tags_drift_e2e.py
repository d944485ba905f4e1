"""The drift report on crafted traffic through the real proxy (openai client; SQLite and PostgreSQL).

Traffic today: a defaulted call (team policy), a quarantined invalid and a quarantined untagged call
(global policy), calls with near-duplicate ``cc`` values; one older call (moved ten days back in the
database, the crafted history) holds the earlier values. ``GET /tags/drift`` and ``ledgerlm tags drift
--json`` return the same report; its shares equal the ones computed here from the spend rows.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import sqlalchemy as sa
from tests.budgets.receiver import threaded_receiver
from typer.testing import CliRunner

from ledgerlm.cli import build_app
from ledgerlm.store import partitions, tables

ENV = {"required": True, "allowed": ["production", "staging"], "aliases": {"prod": "production"}}
MESSAGES = [{"role": "user", "content": "drift"}]


@pytest.fixture(scope="module")
def drifted(proxy_factory: Any, database_url: str) -> dict[str, Any]:
    general = {"tag_policies": {"env": {**ENV, "action": "quarantine"}}, "tag_drift_alert_threshold": 0.25}
    proxy = proxy_factory(database_url, general_settings=general)
    team_default = {"tag_policies": {"env": {**ENV, "action": "default", "default": "staging"}}}
    team_a = proxy.new_team(team_alias="drift-a", metadata=team_default)
    team_b = proxy.new_team(team_alias="drift-b")
    key_a, key_b = proxy.new_key(team_id=team_a), proxy.new_key(team_id=team_b)
    ids: dict[str, str] = {}
    plan = [
        ("old", key_a, ["env:production", "cc:biling"]),
        ("defaulted", key_a, ["cc:Billing"]),
        ("invalid", key_b, ["env:bogus"]),
        ("untagged", key_b, []),
        ("prod", key_a, ["env:prod", "cc:billing"]),
    ]
    for name, key, tags in plan:
        raw = proxy.client(key).chat.completions.with_raw_response.create(
            model="priced", messages=MESSAGES, extra_body={"tags": tags}
        )
        ids[name] = raw.headers["x-request-id"]
    proxy.wait_written()
    old = datetime.now(UTC) - timedelta(days=10)
    with proxy._db.begin() as conn:
        if conn.dialect.name == "postgresql":  # daily partitions (migration 0017): the old day's first
            for name in partitions.PARTITIONED:
                conn.exec_driver_sql(partitions.create_sql(name, old.date()))
        for table in (tables.spend_logs, tables.spend_log_tags, tables.spend_log_ids):
            conn.execute(sa.update(table).where(table.c.request_id == ids["old"]).values(startTime=old))
    return {"proxy": proxy, "ids": ids, "teams": {"a": team_a, "b": team_b}, "general": general}


def _share(part: Decimal, total: Decimal) -> Decimal:
    return (part / total).quantize(Decimal("0.0001"))


def test_drift_report_on_crafted_traffic(drifted: dict[str, Any]) -> None:
    proxy, ids = drifted["proxy"], drifted["ids"]
    spend = {name: proxy.row(rid)["spend"] for name, rid in ids.items()}
    total = sum((v for k, v in spend.items() if k != "old"), Decimal(0))
    today = datetime.now(UTC).date().isoformat()
    report = proxy.ok("GET", f"/tags/drift?start_date={today}&end_date={today}")
    assert report["from"] == today and report["to"] == today
    dims = {d["dimension"]: d for d in report["dimensions"]}
    assert next(iter(dims)) == "env" and set(dims) == {"env", "cc"}
    env, cc = dims["env"], dims["cc"]
    assert Decimal(str(env["total_usd"])) == total
    assert Decimal(str(env["untagged_share"])) == _share(spend["untagged"], total)
    assert Decimal(str(env["defaulted_share"])) == _share(spend["defaulted"], total)
    assert Decimal(str(env["quarantined_share"])) == _share(spend["invalid"] + spend["untagged"], total)
    assert env["invalid_values"] == ["bogus"]
    assert env["new_values"] == ["staging"]  # production was seen before the period
    assert cc["new_values"] == ["Billing", "billing"]
    assert cc["near_duplicates"] == [["Billing", "billing"], ["biling", "billing"]]
    assert Decimal(str(cc["untagged_share"])) == _share(spend["invalid"] + spend["untagged"], total)
    teams = {row["team_id"]: row for row in env["by_team"]}
    team_b = drifted["teams"]["b"]
    assert Decimal(str(teams[team_b]["total_usd"])) == spend["invalid"] + spend["untagged"]
    assert Decimal(str(teams[team_b]["quarantined_share"])) == 1
    assert [a["dimension"] for a in report["alerts"]] == ["cc"]  # cc untagged share > 0.25, env's < 0.25
    one = proxy.ok("GET", f"/tags/drift?start_date={today}&end_date={today}&dimension=cc")
    assert [d["dimension"] for d in one["dimensions"]] == ["cc"] and one["dimensions"][0] == cc


def test_drift_cli_prints_the_route_json(drifted: dict[str, Any], tmp_path: Path) -> None:
    proxy = drifted["proxy"]
    today = datetime.now(UTC).date().isoformat()
    config = tmp_path / "config.yaml"
    config.write_text(orjson.dumps({"general_settings": drifted["general"]}).decode(), encoding="utf-8")
    args = ["tags", "drift", "--from", today, "--to", today, "--json"]
    args += ["--database-url", proxy.database_url, "--config", str(config)]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 2, result.output  # 2: an untagged share passed the threshold
    route = proxy.ok("GET", f"/tags/drift?start_date={today}&end_date={today}")
    assert orjson.loads(result.output) == route
    table = CliRunner().invoke(build_app(), [*args[:-5], "--database-url", proxy.database_url])
    assert table.exit_code == 2 and "ALERT: cc" in table.output  # the default threshold is 0.2


def test_drift_route_rejects_bad_dates(drifted: dict[str, Any]) -> None:
    proxy = drifted["proxy"]
    assert proxy.request("GET", "/tags/drift?start_date=yesterday")[0] == 400
    assert proxy.request("GET", "/tags/drift?start_date=2026-02-02&end_date=2026-02-01")[0] == 400
    for bad in ("%00", "a:b", "%20env", "x" * 65):
        assert proxy.request("GET", f"/tags/drift?dimension={bad}")[0] == 400
        assert proxy.request("GET", f"/global/spend/report?group_by=tag:{bad}")[0] == 400


def test_spend_report_cli_by_dimension_adds_up(drifted: dict[str, Any]) -> None:
    proxy = drifted["proxy"]
    args = ["spend", "report", "--group-by", "tag:cc", "--json", "--database-url", proxy.database_url]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.output)
    # the CLI writes money as decimal strings, the route as exact JSON numbers: compare the values
    assert _exact(report) == _exact(proxy.ok("GET", "/global/spend/report?group_by=tag:cc"))
    rows = {row["group"]: Decimal(str(row["spend"])) for row in report["data"]}
    assert set(rows) == {"Billing", "billing", "biling", "unallocated"} and report["adds_up"] is True
    assert sum(rows.values()) == Decimal(str(report["total"]["spend"])) > 0


def test_a_nul_in_request_metadata_does_not_break_the_reports(drifted: dict[str, Any]) -> None:
    proxy = drifted["proxy"]
    key = proxy.new_key(team_id=drifted["teams"]["b"])  # global quarantine: this row carries a record
    metadata = {"note": "a\u0000b", "tags": ["cc:billing"]}
    status, _, _ = proxy.request(
        "POST",
        "/v1/chat/completions",
        {"model": "priced", "messages": MESSAGES, "metadata": metadata},
        key=key,
    )
    proxy.wait_written()
    drift = proxy.ok("GET", "/tags/drift")
    assert {d["dimension"] for d in drift["dimensions"]} >= {"env", "cc"}
    assert proxy.ok("GET", "/global/spend/report?group_by=tag:env")["adds_up"] is True
    assert status == 200  # the row with the NUL was stored (PostgreSQL json keeps \\u0000)


def _exact(value: Any) -> Any:
    """``value`` with every number (a JSON number, or a string holding one) as an exact ``Decimal``."""
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


@pytest.mark.parametrize("marks", ["file", "redis"])
def test_drift_cli_alert_is_delivered_once_per_period(
    drifted: dict[str, Any], tmp_path: Path, marks: str, request: pytest.FixtureRequest
) -> None:
    proxy = drifted["proxy"]
    today = datetime.now(UTC).date().isoformat()
    general: dict[str, Any] = {**drifted["general"], "spool_dir": str(tmp_path / "spool")}
    budget: dict[str, Any] = {}
    if marks == "redis":  # shared with the proxies: a fresh prefix, deleted after
        general["redis_url"] = request.getfixturevalue("redis_url")
        budget["redis_prefix"] = "{ledgerlm-drift-" + uuid.uuid4().hex + "}"
    with threaded_receiver() as receiver:
        budget["alerts"] = {
            "webhook_urls": [f"{receiver.url}/hook"],
            "slack_webhook_urls": [f"{receiver.url}/slack"],
        }
        config = tmp_path / "config.yaml"
        config.write_text(
            orjson.dumps({"general_settings": general, "budget_settings": budget}).decode(), "utf-8"
        )
        args = ["tags", "drift", "--from", today, "--to", today, "--json", "--alert"]
        args += ["--database-url", proxy.database_url, "--config", str(config)]
        runs = [CliRunner().invoke(build_app(), args) for _ in range(2)]  # the same period twice
        assert [r.exit_code for r in runs] == [2, 2], runs[0].output
        assert (
            "alert cc: sent" in runs[0].stderr and "alert cc: already sent for this period" in runs[1].stderr
        )
        hooks, slacks = receiver.at("/hook"), receiver.at("/slack")
    subjects = [h["subject"] for h in hooks]
    assert "cc" in subjects and len(subjects) == len(set(subjects)) == len(slacks)  # once per dimension
    [hook] = [h for h in hooks if h["subject"] == "cc"]
    assert hook["type"] == "ledgerlm_alert" and hook["event"] == "tag_drift"
    assert hook["details"]["from"] == today and hook["details"]["threshold"] == "0.25"
    pattern = r"tag dimension 'cc': untagged share [\d.]+ of .* passed the threshold 0\.25"
    assert any(re.search(pattern, s["text"]) for s in slacks)
    if marks == "redis":
        client = redis.Redis.from_url(general["redis_url"])
        assert client.exists(f"{budget['redis_prefix']}:mark:ops|tag_drift|cc|{today}..{today}")
        client.delete(*client.keys(budget["redis_prefix"] + "*"))
        client.close()
    else:
        assert (tmp_path / "spool" / "alert-marks.json").is_file()
    missing = CliRunner().invoke(build_app(), [*args[:-4], "--database-url", proxy.database_url])
    assert missing.exit_code != 0 and "--alert needs --config" in missing.output
