"""``ledgerlm db`` and ``ledgerlm spend report`` against real databases."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledgerlm.cli import build_app
from ledgerlm.store import Spool, create_engine, teams
from ledgerlm.store.migrate import head_revision
from ledgerlm.store.tables import spend_logs

from .factories import Database, cli_url, uid
from .helpers import count_rows, ingest, rows

runner = CliRunner()


def test_db_upgrade_then_current_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    before = runner.invoke(build_app(), ["db", "current", "--database-url", url])
    assert before.exit_code == 1 and "not migrated" in before.output
    upgraded = runner.invoke(build_app(), ["db", "upgrade", "--database-url", url])
    assert upgraded.exit_code == 0, upgraded.output
    after = runner.invoke(build_app(), ["db", "current", "--database-url", url])
    assert after.exit_code == 0 and after.output.strip() == head_revision()


def test_db_upgrade_reads_database_url_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert runner.invoke(build_app(), ["db", "upgrade"]).exit_code == 0
    assert (tmp_path / "env.db").exists()


async def _seed(database: Database, team: str) -> None:
    engine = database.engine()
    try:
        await teams.create_team(engine, team, {"team_alias": "Growth"})
        await ingest(engine, rows(4, team_id=team) + rows(1, team_id=team, status="failure"))
    finally:
        await engine.dispose()


def test_spend_report_json_and_table(database: Database) -> None:
    team = uid("team-")
    asyncio.run(_seed(database, team))
    url = cli_url(database)
    result = runner.invoke(build_app(), ["spend", "report", "--by", "team", "--json", "--database-url", url])
    assert result.exit_code == 0, result.output
    (row,) = [item for item in json.loads(result.output) if item["group"] == team]
    assert Decimal(row["spend"]) == Decimal("0.0002865") * 5
    assert row["api_requests"] == 5 and row["failed_requests"] == 1 and row["label"] == "Growth"
    table = runner.invoke(
        build_app(), ["spend", "report", "--by", "team", "--database-url", url], env={"COLUMNS": "200"}
    )
    assert table.exit_code == 0 and team in table.output and "0.0014325" in table.output
    bad = runner.invoke(build_app(), ["spend", "report", "--by", "planet", "--database-url", url])
    assert bad.exit_code != 0


def test_replay_spool_command_writes_spooled_rows(database: Database, tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    batch = rows(12)
    for row in batch:
        spool.append(row)
    spool.close()
    result = runner.invoke(
        build_app(), ["db", "replay-spool", str(tmp_path), "--database-url", cli_url(database)]
    )
    assert result.exit_code == 0, result.output
    assert "written 12" in result.output and spool.segments() == []

    async def count() -> int:
        engine = create_engine(cli_url(database))
        try:
            return await count_rows(engine, spend_logs.c.request_id.in_([r["request_id"] for r in batch]))
        finally:
            await engine.dispose()

    assert asyncio.run(count()) == 12
