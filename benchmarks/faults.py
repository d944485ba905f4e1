"""Fault injection at full length, with a summary table: the scenarios of ``tests/faults`` run long.

Run: ``.venv/bin/python benchmarks/faults.py`` (about 3 minutes) or ``--quick`` (short outages, ~1 min);
``--only db,sigkill,spool,redis`` picks scenarios; ``--outage-s 60`` sets the database outage.
Needs the machine's PostgreSQL (``LEDGERLM_TEST_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``; a throw-away database is created and dropped) and
``redis-server`` on PATH (a private one on a free port; the shared Redis is never touched).

Scenarios (see ``tests/helpers/scenarios.py``):

* ``db``: steady traffic through ``ledgerlm proxy``; PostgreSQL unreachable for ``--outage-s`` seconds
  (a TCP forwarder between the proxy and the server is cut: the shared server keeps running); back;
* ``sigkill``: SIGKILL under traffic (with the database cut first, so rows are only in the spool, and
  without), restart on the same spool;
* ``spool``: the spool directory replaced by a file for ``--spool-s`` seconds, with
  ``reject_when_spool_unhealthy: true``;
* ``redis``: a budget spent by 8 concurrent clients while Redis restarts ``--restarts`` times.

Verdict per scenario: every call answered 200 has exactly one spend row, the key's total equals its rows,
plus the scenario's own promise (kept answering; refused with 503; stayed within the budget).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the scenarios live with the tests (tests/helpers)

from tests.e2e.conftest import SIM_MODELS  # noqa: E402
from tests.helpers import scenarios  # noqa: E402
from tests.helpers.scenarios import Outcome  # noqa: E402

from ledgerlm.simulator import Simulator  # noqa: E402

POSTGRES_URL = os.environ.get("LEDGERLM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _promise(outcome: Outcome) -> tuple[bool, str]:
    """The scenario's own promise, beyond 'no row lost or doubled'."""
    name = outcome.name
    if name.startswith("database"):
        held = not outcome.failures and outcome.answered_during_fault > 0
        return (
            held,
            f"kept answering ({outcome.answered_during_fault} during the outage, "
            f"{sum(outcome.failures.values())} errors)",
        )
    if name.startswith("SIGKILL"):
        return outcome.notes.get("served_after_restart") == 200, "served after restart"
    if name.startswith("spool"):
        refused = set(outcome.refused_during_fault) == {"503 spool_unhealthy"}
        lag = outcome.notes.get("refusing_after_s")
        return (
            refused and lag is not None,
            f"503 spool_unhealthy after {lag if lag is None else round(lag, 2)} s",
        )
    spent, budget = outcome.notes.get("spent"), outcome.notes.get("budget")
    allowance = outcome.notes.get("writer_queue_allowance")
    held = bool(outcome.notes.get("within_bound"))
    bound = f"bound: + {allowance} of rows ended < 0.25 s before a restart"
    return held, f"spent {spent} of {budget} USD ({bound})"


def _row(outcome: Outcome) -> list[str]:
    promise_ok, promise = _promise(outcome)
    verdict = "PASS" if outcome.ok and promise_ok else "FAIL"
    drain = "-" if outcome.drain_s is None else f"{outcome.drain_s:.1f}"
    failures = ",".join(f"{k}x{v}" for k, v in sorted(outcome.failures.items())) or "0"
    return [
        outcome.name,
        f"{outcome.seconds:.0f}",
        str(len(outcome.answered)),
        failures,
        str(len(outcome.missing)),
        str(outcome.doubled),
        "yes" if outcome.totals_match else "NO",
        drain,
        promise,
        verdict,
    ]


def _table(rows: list[list[str]]) -> str:
    head = [
        "scenario",
        "s",
        "answered",
        "refused/errors",
        "lost",
        "doubled",
        "totals",
        "drain s",
        "promise",
        "",
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _plan(args: argparse.Namespace) -> list[tuple[str, Callable[[str, Path], Outcome]]]:
    pg = POSTGRES_URL
    plan: list[tuple[str, Callable[[str, Path], Outcome]]] = [
        ("db", lambda sim, tmp: scenarios.db_outage(sim, pg, tmp, outage_s=args.outage_s, threads=4)),
        ("sigkill", lambda sim, tmp: scenarios.sigkill(sim, pg, tmp, cut_db=True, threads=6)),
        ("sigkill", lambda sim, tmp: scenarios.sigkill(sim, pg, tmp, cut_db=False, threads=6)),
        ("spool", lambda sim, tmp: scenarios.spool_unwritable(sim, pg, tmp, broken_s=args.spool_s)),
        (
            "redis",
            lambda sim, tmp: scenarios.redis_restarts(sim, pg, tmp, restarts=args.restarts, every_s=2.0),
        ),
    ]
    wanted = set(args.only.split(",")) if args.only else None
    return [(name, run) for name, run in plan if wanted is None or name in wanted]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--outage-s", type=float, default=60.0, help="database outage, seconds (default 60)")
    parser.add_argument("--spool-s", type=float, default=15.0, help="spool unwritable, seconds (default 15)")
    parser.add_argument("--restarts", type=int, default=6, help="Redis restarts (default 6)")
    parser.add_argument("--only", default="", help="comma-separated: db,sigkill,spool,redis")
    parser.add_argument("--quick", action="store_true", help="short durations (~1 minute in all)")
    args = parser.parse_args()
    if args.quick:
        args.outage_s, args.spool_s, args.restarts = 8.0, 3.0, 3
    rows: list[list[str]] = []
    with Simulator(models={k: dict(v) for k, v in SIM_MODELS.items()}) as sim:
        for index, (name, run) in enumerate(_plan(args)):
            print(f"running {name} ...", flush=True)
            with tempfile.TemporaryDirectory(prefix=f"ledgerlm-fault-{index}-") as tmp:
                outcome = run(sim.url, Path(tmp))
            rows.append(_row(outcome))
            print(_table(rows[-1:]), flush=True)
    print("\nledgerlm fault injection summary")
    print(_table(rows))
    failed = [r[0] for r in rows if r[-1] != "PASS"]
    print("\nverdict:", "every promise held" if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
