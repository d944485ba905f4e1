"""Cost of the spend-alert detector per call (off the response path, on the callback thread).

Feeds ``SpendAlerts.observe`` CallRecord JSON dicts spread over many keys, teams, end users and tags
(five series per call, three rules) and prints microseconds per call and the series kept.

    PYTHONPATH=src python benchmarks/spend_alerts.py [calls]
"""

from __future__ import annotations

import sys
import time

from ledgerlm.budgets.baseline import HourlyBaseline
from ledgerlm.budgets.spend_alerts import SpendAlerts, parse_rules


def main(calls: int = 100_000) -> None:
    rules = parse_rules(
        [
            {"name": "spend", "metric": "spend_per_hour", "factor": 3, "min_current": 1},
            {"name": "tokens", "metric": "tokens_per_request", "factor": 3, "min_requests": 10},
            {"name": "errors", "metric": "error_share", "factor": 3, "min_requests": 10},
        ]
    )
    alerts = SpendAlerts(rules, baseline=HourlyBaseline(max_series=10_000))
    events = [
        {
            "id": f"req-{i}",
            "status": "failure" if i % 50 == 0 else "success",
            "key_hash": f"key-{i % 500}",
            "team_id": f"team-{i % 40}",
            "end_user": f"user-{i % 5000}",
            "request_tags": [f"feature:{i % 20}"],
            "model_group": f"model-{i % 8}",
            "usage": {"input_tokens": 800, "output_tokens": 200},
            "cost": {"total": "0.0012"},
        }
        for i in range(calls)
    ]
    start = time.perf_counter()
    for event in events:
        alerts.observe(event)
    elapsed = time.perf_counter() - start
    print(f"calls: {calls}, series kept: {len(alerts.baseline)}, evicted: {alerts.baseline.evicted}")
    print(f"observe: {elapsed / calls * 1e6:.1f} us per call (5 series, {len(rules)} rules)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
