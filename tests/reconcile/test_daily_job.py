"""The proxy's daily reconciliation job: it pulls the simulator's admin reports for yesterday, finds
untracked traffic injected there, stores the run (``GET /reconcile/runs``), sets the ``capture_rate``
gauge and posts the drift alert to a local webhook and Slack receiver."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from ledgerlm.errors import ConfigError
from ledgerlm.ledger.reconcile.report import parse_json
from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread
from ledgerlm.simulator import Simulator

MASTER = "sk-job-master"
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


class _Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, list[Any]]] = {}

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        self.bodies.setdefault(self.path, []).append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[tuple[str, dict[str, list[Any]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.bodies = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Receiver.bodies
    server.shutdown()
    server.server_close()


def _get(url: str, path: str, key: str = MASTER) -> tuple[int, Any]:
    request = urllib.request.Request(url + path, headers={"authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _config(tmp_path: Path, sim_url: str, hook_url: str, **reconcile: Any) -> Path:
    config = {
        "model_list": [
            {"model_name": "gpt-4o-mini", "litellm_params": {"model": "openai/gpt-4o-mini",
             "api_base": f"{sim_url}/v1", "api_key": "sk-up"}}
        ],
        "general_settings": {"master_key": MASTER, "database_url": f"sqlite:///{tmp_path}/db.sqlite",
                             "spool_dir": str(tmp_path / "spool")},
        "litellm_settings": {"callbacks": ["prometheus"]},
        "budget_settings": {"alerts": {"webhook_urls": [f"{hook_url}/hook"],
                                       "slack_webhook_urls": [f"{hook_url}/slack"]}},
        "reconcile_settings": reconcile,
    }  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_daily_job_stores_run_sets_gauge_and_alerts(tmp_path: Path, receiver: Any) -> None:
    hook_url, bodies = receiver
    with Simulator() as sim:
        sim.state.billing.knobs["untracked"] = [
            {"model": "gpt-4o-mini", "day": YESTERDAY.isoformat(), "input": 2_000_000}
        ]
        settings = {"providers": [{"provider": "openai", "admin_key": "sk-admin", "api_base": sim.url}],
                    "first_run_delay_s": 0, "interval_s": 3600}  # fmt: skip
        app = create_app(_config(tmp_path, sim.url, hook_url, **settings))
        with ServerThread(app) as server:
            deadline = time.monotonic() + 20
            while len(bodies.get("/slack", [])) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            status, listing = _get(server.url, "/reconcile/runs")
            assert status == 200
            (summary,) = parse_json(listing)["data"]
            status, raw = _get(server.url, f"/reconcile/runs/{summary['id']}")
            run = parse_json(raw)
            _, metrics = _get(server.url, "/metrics")
            denied, _ = _get(server.url, "/reconcile/runs", key="sk-not-a-key")
            missing, _ = _get(server.url, "/reconcile/runs/rec_nope")
    assert set(run) >= {"id", "provider", "from", "to", "ledger_usd", "provider_usd", "capture_rate",
                        "status", "created_at", "rows"}  # fmt: skip
    assert (run["provider"], run["from"], run["to"]) == (
        "openai",
        YESTERDAY.isoformat(),
        YESTERDAY.isoformat(),
    )
    assert run["ledger_usd"] == 0 and run["provider_usd"] == Decimal("0.3")  # 2M input tokens at $0.15/M
    assert run["capture_rate"] == 0 and run["status"] == "drift"
    (row,) = run["rows"]
    assert (row["category"], row["explanation"], row["provider_tokens"]) == (
        "input",
        "untracked_traffic",
        2_000_000,
    )
    (event,) = bodies["/hook"]
    assert event["type"] == "reconcile_drift" and event["run_id"] == run["id"]
    assert Decimal(event["provider_usd"]) == Decimal("0.3") and Decimal(event["capture_rate"]) == 0
    assert "reconciliation drift" in bodies["/slack"][0]["text"]
    assert b'ledgerlm_capture_rate{provider="openai"} 0.0' in metrics
    assert denied == 401 and missing == 404


def test_job_is_off_without_admin_key_and_rejects_bad_settings(tmp_path: Path) -> None:
    app = create_app(
        _config(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9", providers=[{"provider": "openai"}])
    )
    assert app.state.reconcile.active is False
    with pytest.raises(ConfigError, match=r"reconcile_settings\.tolerance"):
        create_app(_config(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9", tolerance=-1))
