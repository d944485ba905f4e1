"""The proxy part of ``make demo``: simulator + ``ledgerlm proxy`` on SQLite (temp dir), two teams, three
keys with tags, ~100 calls through the official ``openai`` client (plain, streamed, tags by header and
body, two end users, one failing upstream), then spend by team, tag, model and key from the spend API,
and the dashboard's address with a login key (``LEDGERLM_DEMO_DASHBOARD_S=600`` keeps it open that long).

``run_proxy_demo(sim_url, console)`` is called by ``ledgerlm.demo.main``; ``python -m
ledgerlm.proxy.demo`` runs it alone. Needs the ``openai`` package (dev extra, installed by ``make demo``).
"""

from __future__ import annotations

import tempfile
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import yaml
from rich.console import Console
from rich.table import Table

__all__ = ["main", "run_proxy_demo"]

MASTER_KEY = "sk-demo-master"
END_USERS = ("alice", "bob")
FAILING_MODEL = "demo-overloaded"  # the simulator answers 503 for it
REPORTS = (("team", "team"), ("tag", "tag"), ("model", "model"), ("api_key", "key"))


def _config(sim_url: str, folder: Path) -> Path:
    base = f"{sim_url}/v1"

    def model(name: str, upstream: str, tags: list[str] | None = None, **prices: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": upstream,
            "api_base": base,
            "api_key": "sk-demo-upstream",
            **prices,
        }
        if tags:
            params["tags"] = tags
        return {"model_name": name, "litellm_params": params}

    config = {
        "model_list": [
            model("gpt-4o-mini", "openai/gpt-4o-mini", ["region:eu"]),
            model("gpt-4o", "openai/gpt-4o", ["region:us"]),
            model(
                "flaky",
                f"openai/{FAILING_MODEL}",
                input_cost_per_token="0.0000002",
                output_cost_per_token="0.0000008",
            ),  # custom prices (USD per token)
        ],
        "general_settings": {
            "master_key": MASTER_KEY,
            "database_url": f"sqlite:///{folder}/ledgerlm.db",
            "spool_dir": str(folder / "spool"),
        },
        "litellm_settings": {"num_retries": 0, "extra_spend_tag_headers": ["X-Service"]},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class _Admin:
    """Tiny HTTP helper for the management and spend routes (master key)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else orjson.dumps(body)
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("authorization", f"Bearer {MASTER_KEY}")
        request.add_header("content-type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return orjson.loads(response.read())


def _setup(admin: _Admin) -> dict[str, str]:
    """Two teams and three keys (shown once; only their hashes are stored)."""
    admin.call("POST", "/team/new", {"team_id": "search", "team_alias": "Search", "tags": ["team:search"]})
    admin.call("POST", "/team/new", {"team_id": "support", "team_alias": "Support", "tags": ["team:support"]})
    keys = {
        "search-web": {"team_id": "search", "key_alias": "search-web", "tags": ["app:web"]},
        "support-bot": {"team_id": "support", "key_alias": "support-bot", "tags": ["app:bot"]},
        "support-batch": {
            "team_id": "support",
            "key_alias": "support-batch",
            "models": ["gpt-4o-mini"],
            "tags": ["app:batch"],
        },
    }
    return {name: admin.call("POST", "/key/generate", body)["key"] for name, body in keys.items()}


def _traffic(url: str, keys: dict[str, str], calls: int = 96) -> tuple[int, int]:
    """Plain and streamed calls with tags by header and by body; two end users; failing calls."""
    import openai

    clients = {
        name: openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0) for name, key in keys.items()
    }
    ok = failed = 0
    try:
        for i in range(calls):
            name = list(clients)[i % 3]
            model = "gpt-4o-mini" if name == "support-batch" or i % 4 else "gpt-4o"
            messages: Any = [{"role": "user", "content": f"Question {i}: summarise ticket #{1000 + i}."}]
            extra: dict[str, Any] = {"user": END_USERS[i % 2]}
            if i % 2:
                extra["extra_headers"] = {
                    "x-litellm-tags": f"feature:{'chat' if i % 3 else 'search'}",
                    "X-Service": "frontend",
                }
            else:
                extra["extra_body"] = {"metadata": {"tags": ["feature:summary"]}}
            if i % 5 == 0:
                list(
                    clients[name].chat.completions.create(
                        model=model, messages=messages, stream=True, **extra
                    )
                )
            else:
                clients[name].chat.completions.create(model=model, messages=messages, **extra)
            ok += 1
        for _ in range(2):
            try:
                clients["support-bot"].chat.completions.create(model="flaky", messages=messages)
            except openai.APIStatusError:
                failed += 1
    finally:
        for client in clients.values():
            client.close()
    return ok, failed


def _wait_written(app: Any, timeout_s: float = 20.0) -> None:
    writer = app.state.proxy.store.writer
    deadline = time.monotonic() + timeout_s
    while writer.queue_depth > 0 and time.monotonic() < deadline:
        time.sleep(0.02)


def _render(admin: _Admin, console: Console) -> None:
    for group_by, title in REPORTS:
        rows = admin.call("GET", f"/global/spend/report/v2?group_by={group_by}")["data"]
        table = Table(title=f"spend by {title} (from GET /global/spend/report/v2?group_by={group_by})")
        for column in (title, "requests", "failed", "tokens", "spend (USD)"):
            table.add_column(column, justify="left" if column == title else "right")
        for row in rows:
            label = row.get("label") or row["group"]
            if group_by == "api_key" and row.get("label"):
                label = f"{row['label']} ({str(row['group'])[:10]}...)"
            table.add_row(
                str(label),
                str(row["api_requests"]),
                str(row["failed_requests"]),
                str(row["total_tokens"]),
                str(Decimal(str(row["spend"]))),
            )
        console.print(table)


UNTRACKED = {"model": "gpt-4o-mini", "input": 400_000, "output": 20_000}
"""Traffic the demo's simulated provider bills but the gateway never saw (a key used outside it)."""


def _reconcile(sim_url: str, database_url: str, billing: Any, console: Console) -> None:
    """Reconcile today's ledger with the simulator's OpenAI admin reports, after injecting traffic
    the gateway never saw; print the summary and the explained differences."""
    import asyncio
    from datetime import UTC, datetime

    from ledgerlm.ledger.reconcile.pull import PullRequest
    from ledgerlm.ledger.reconcile.render import render_table, summary_line
    from ledgerlm.ledger.reconcile.service import ReconcileJob, run
    from ledgerlm.store.engine import create_engine

    billing.knobs["untracked"] = [dict(UNTRACKED)]
    today = datetime.now(UTC).date()
    job = ReconcileJob("openai", today, today, pull=PullRequest("openai", today, today, "sk-admin", sim_url))

    async def go() -> Any:
        engine = create_engine(database_url)
        try:
            return await run(job, engine)
        finally:
            await engine.dispose()

    result = asyncio.run(go())
    console.print("\nreconciliation with the provider's admin reports (GET /v1/organization/costs, usage):")
    console.print(summary_line(result))
    console.print(render_table(result))
    console.print(
        f"injected: {UNTRACKED['input']:,} input + {UNTRACKED['output']:,} output tokens of gpt-4o-mini "
        "billed "
        "by the provider on a key the gateway never saw -> untracked_traffic (the SDK calls above went "
        "straight to the simulator, not through the proxy, so they are untracked too)"
    )


def run_proxy_demo(
    sim_url: str,
    console: Console,
    *,
    sim_models: dict[str, dict[str, Any]] | None = None,
    sim_billing: Any = None,
) -> None:
    """Run the proxy demo against the simulator at ``sim_url`` and print the spend reports; with
    ``sim_billing`` (the simulator's ``Billing``) end with a reconciliation (issue 18)."""
    from ledgerlm.proxy.app import create_app
    from ledgerlm.proxy.server import ServerThread

    if sim_models is not None:
        sim_models[FAILING_MODEL] = {"error_status": 503}
    with tempfile.TemporaryDirectory(prefix="ledgerlm-demo-") as tmp:
        app = create_app(_config(sim_url, Path(tmp)))
        with ServerThread(app) as server:
            console.print(f"\nproxy listening on {server.url} (SQLite spend log in a temp dir)")
            admin = _Admin(server.url)
            keys = _setup(admin)
            started = time.perf_counter()
            ok, failed = _traffic(server.url, keys)
            elapsed = time.perf_counter() - started
            console.print(
                f"{ok} calls answered and {failed} failed upstream (503) in {elapsed:.2f}s "
                "through the openai client"
            )
            _wait_written(app)
            _render(admin, console)
            if sim_billing is not None:
                _reconcile(sim_url, f"sqlite:///{tmp}/ledgerlm.db", sim_billing, console)
            _dashboard(server.url, console)


def _dashboard(url: str, console: Console) -> None:
    """Print the dashboard's address and a login key (issue 21); keep it open for
    ``LEDGERLM_DEMO_DASHBOARD_S`` seconds (default 0: the demo exits and the proxy stops)."""
    import os

    console.print(f"\ndashboard: {url}/ui/  (log in with the master key {MASTER_KEY})")
    seconds = float(os.environ.get("LEDGERLM_DEMO_DASHBOARD_S", "0") or 0)
    if seconds <= 0:
        console.print("set LEDGERLM_DEMO_DASHBOARD_S=600 to keep the demo proxy and its dashboard open")
        return
    console.print(f"the dashboard stays open for {seconds:.0f} s (Ctrl-C to stop)")
    try:
        time.sleep(seconds)
    except KeyboardInterrupt:
        return


def main() -> int:
    """Run the proxy demo alone with its own simulator."""
    from ledgerlm.simulator import Simulator

    console = Console(width=max(Console().width, 120))
    with Simulator() as sim:
        run_proxy_demo(sim.url, console, sim_models=sim.models, sim_billing=sim.state.billing)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
