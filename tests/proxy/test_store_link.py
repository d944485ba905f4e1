"""Spool slots: each proxy process holds its own ``slot-<n>`` (exclusive lock); a slot whose holder is
gone is reclaimed (that is how a restarted proxy replays what a killed one spooled)."""

from __future__ import annotations

import os
from pathlib import Path

from ledgerlm.proxy.store_link import claim_spool_slot, key_context


def test_slots_are_exclusive_and_reclaimed(tmp_path: Path) -> None:
    first, fd1 = claim_spool_slot(tmp_path / "spool")
    second, fd2 = claim_spool_slot(tmp_path / "spool")
    assert (first.name, second.name) == ("slot-0", "slot-1") and first.is_dir() and second.is_dir()
    os.close(fd1)  # the first holder exits (or is killed)
    again, fd3 = claim_spool_slot(tmp_path / "spool")
    assert again == first
    os.close(fd2)
    os.close(fd3)


def test_key_context_merges_key_and_team() -> None:
    row = {
        "token": "h",
        "key_alias": "a",
        "models": ["m"],
        "metadata": {"tags": ["k1", 3]},
        "team_id": "t",
        "blocked": False,
        "expires": None,
    }
    team = {
        "team_id": "t",
        "models": ["m", "n"],
        "tags": ["t1"],
        "metadata": {"tags": ["t2", "t1"]},
        "blocked": True,
        "organization_id": "org",
    }
    ctx = key_context(row, team)
    assert ctx.tags == ["k1"] and ctx.team_tags == ["t1", "t2"]
    assert ctx.models == ["m"] and ctx.team_models == ["m", "n"]
    assert ctx.blocked and ctx.org_id == "org"  # a blocked team blocks its keys
