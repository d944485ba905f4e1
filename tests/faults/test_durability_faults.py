"""Durability under faults, each against a real ``ledgerlm proxy`` subprocess on a throw-away database of
the machine's PostgreSQL (reached through a TCP forwarder the test cuts; the shared server is never
stopped), with steady openai-client traffic. The scenarios live in ``tests/helpers/scenarios.py``;
``benchmarks/faults.py`` runs the same ones at full length (a 60 s outage).

* database unreachable for ``OUTAGE_S`` seconds: the proxy kept answering, readiness said so, and every
  call answered 200 has exactly one spend row afterwards (and the key's total equals its rows);
* SIGKILL under traffic, restart: every call answered before the kill has its row, none doubled (with
  the database cut before the kill, so the rows exist only in the spool);
* the spool directory unwritable: readiness 503 naming the spool, the reason in the process log, new
  calls refused with 503 ``spool_unhealthy`` (``reject_when_spool_unhealthy: true``), and served again
  (with rows) once it is writable.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import scenarios

from ledgerlm.simulator import Simulator

OUTAGE_S = 6.0


def test_database_unreachable_under_traffic_then_back(
    simulator: Simulator, postgres_url: str, tmp_path: Path
) -> None:
    outcome = scenarios.db_outage(simulator.url, postgres_url, tmp_path, outage_s=OUTAGE_S)
    assert not outcome.failures, f"the proxy must keep answering: {outcome.failures}"
    assert outcome.answered_during_fault >= 10, "traffic was served while the database was down"
    assert any(r.startswith("503 db=unreachable") for r in outcome.readiness_during_fault), (
        outcome.readiness_during_fault
    )
    assert outcome.notes["readiness_after"] == 200
    assert not outcome.missing, (
        f"{len(outcome.missing)} of {len(outcome.answered)} answered calls have no row"
    )
    assert outcome.doubled == 0 and outcome.rows == len(outcome.answered)
    assert outcome.totals_match, "the key's total differs from the sum of its rows"


def test_sigkill_under_traffic_then_restart(simulator: Simulator, postgres_url: str, tmp_path: Path) -> None:
    outcome = scenarios.sigkill(simulator.url, postgres_url, tmp_path, cut_db=True)
    assert len(outcome.answered) >= 30
    assert not outcome.missing, f"{len(outcome.missing)} of {len(outcome.answered)} answered calls lost"
    assert outcome.doubled == 0
    # calls cut off by the kill got no answer; each has at most one row (none doubled, checked above)
    assert outcome.rows - len(outcome.answered) <= 3, "more rows than answered + in-flight calls"
    assert outcome.totals_match
    assert outcome.notes["served_after_restart"] == 200


def test_spool_unwritable_turns_readiness_red_and_refuses_calls(
    simulator: Simulator, postgres_url: str, tmp_path: Path
) -> None:
    outcome = scenarios.spool_unwritable(simulator.url, postgres_url, tmp_path, broken_s=2.0)
    assert outcome.notes["readiness_503_after_s"] is not None, "readiness never turned 503"
    assert outcome.notes["refusing_after_s"] is not None, "calls were never refused"
    assert all(r.startswith("503 unhealthy") and "spool" in r for r in outcome.readiness_during_fault), (
        outcome.readiness_during_fault
    )
    assert set(outcome.refused_during_fault) == {"503 spool_unhealthy"}, outcome.refused_during_fault
    assert all("not a directory" in r for r in outcome.readiness_during_fault), "readiness names the reason"
    assert "spend spool unhealthy: spool path" in outcome.log, outcome.log[-2000:]  # the reason, logged
    assert outcome.notes["readiness_200_after_s"] is not None, "readiness did not recover"
    assert not outcome.missing and outcome.doubled == 0 and outcome.totals_match
