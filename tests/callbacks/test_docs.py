"""The CustomLogger example of docs/callbacks.md runs as written (against the local simulator)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "callbacks.md"


def test_the_documented_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "docs/callbacks.md has no python example"
    exec(compile(blocks[0], str(DOC), "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out
    assert re.search(r"gpt-4o-mini: \d+ tokens, \$[\d.E-]+ in 0:00:0", out), out
    assert "failed:" not in out
