"""The ``ledgerlm`` script turns user errors (a missing file, a bad URL, a database without ledgerlm's
tables, a port that cannot be bound) into one ``error: ...`` line and exit status 1, never a traceback.
Real subprocesses of the installed entry point's module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledgerlm.cli import user_error_message


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the SQLite default applies
    return subprocess.run(
        [sys.executable, "-m", "ledgerlm.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("spend", "report", "--database-url", "sqlite:///./missing.db"), ("no sqlite database",)),
        (("spend", "report", "--database-url", "sqlite:///./empty.db"), ("no such table", "db upgrade")),
        (("spend", "report", "--database-url", "foo://bar"), ("unsupported database",)),
        (("db", "upgrade", "--database-url", "not a url"), ("not a database url",)),
        (("simulate", "--models", "missing.json", "--port", "0"), ("missing.json",)),
        (("simulate", "--port", "99999"), ("port",)),
    ],
)
def test_user_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], words: tuple[str, ...]) -> None:
    (tmp_path / "empty.db").touch()  # a SQLite file without ledgerlm's tables
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word.lower() in lines[0].lower()


def test_bugs_still_raise() -> None:
    assert user_error_message(RuntimeError("a bug")) is None
    assert user_error_message(KeyError("x")) is None
    assert user_error_message(FileNotFoundError(2, "No such file", "x.json")) is not None


def test_replay_spool_of_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-spool"
    result = run("db", "replay-spool", str(missing), "--database-url", "sqlite:///./x.db", cwd=tmp_path)
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert not missing.exists() and not (tmp_path / "x.db").exists()


def test_spend_report_never_creates_a_database(tmp_path: Path) -> None:
    result = run("spend", "report", cwd=tmp_path)
    assert result.returncode == 1 and "no SQLite database" in result.stderr
    assert list(tmp_path.iterdir()) == []
