"""Request latency under a silent database partition (issue 14, hole 4), printed as a table.

Run: ``.venv/bin/python benchmarks/partition.py`` (about 1 minute; ``--calls 40``). Needs the machine's
PostgreSQL (``LEDGERLM_TEST_POSTGRES_URL``; a throw-away database is created and dropped).

The proxy (in-process uvicorn) reaches its database through a TCP forwarder that black-holes every
packet (no reset, no FIN): the kernel would keep a blocked call waiting for tens of seconds. Two cases
are measured with the official ``openai`` client (30 s timeout, no retries), each ``--calls`` calls:

* ``known``: a key whose limits are cached (last known limits serve the call: 200 expected);
* ``new end user``: limits never seen (fail_closed: 503 ``budgets_unavailable`` expected).

Printed per case: statuses, p50 and max latency (ms). ``budget_settings.io_timeout_s`` is 5 s (default).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the helpers live with the tests (tests/helpers)

import openai  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from tests.e2e.conftest import MASTER_KEY, SIM_MODELS, write_config  # noqa: E402
from tests.helpers.pg import temp_database  # noqa: E402
from tests.helpers.tcp_forwarder import TcpForwarder, route_url_through  # noqa: E402

from ledgerlm.proxy.app import create_app  # noqa: E402
from ledgerlm.proxy.server import ServerThread  # noqa: E402
from ledgerlm.simulator import Simulator  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _call(url: str, key: str, user: str | None) -> tuple[int, float]:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, timeout=30.0, max_retries=0)
    extra = {"user": user} if user else {}
    start = time.perf_counter()
    try:
        client.chat.completions.create(
            model="priced",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=5,
            **extra,  # type: ignore[arg-type]
        )
        status = 200
    except openai.APIStatusError as err:
        status = err.status_code
    except openai.APITimeoutError:
        status = 0
    finally:
        client.close()
    return status, (time.perf_counter() - start) * 1000.0


def _row(case: str, results: list[tuple[int, float]]) -> str:
    statuses = Counter(s for s, _ in results)
    times = [t for _, t in results]
    return f"| {case} | {dict(statuses)} | {statistics.median(times):.0f} | {max(times):.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    simulator = Simulator(models=dict(SIM_MODELS)).start()
    with temp_database(POSTGRES) as database, tempfile.TemporaryDirectory() as tmp:
        forwarder = TcpForwarder("127.0.0.1", int(sa.make_url(POSTGRES).port or 5432))
        config = write_config(
            Path(tmp) / "c.yaml", simulator.url, route_url_through(database, forwarder), Path(tmp) / "s"
        )
        app = create_app(config)
        server = ServerThread(app).start()
        try:
            admin = openai.OpenAI(base_url=server.url, api_key=MASTER_KEY)
            key = admin.post("/key/generate", body={"max_budget": 10}, cast_to=dict)["key"]  # type: ignore[type-arg]
            admin.close()
            assert _call(server.url, key, None)[0] == 200
            forwarder.blackhole()
            time.sleep(1.2)  # past limits_cache_ttl_s: lookups now go to the silent database
            known = [_call(server.url, key, None) for _ in range(args.calls)]
            fresh = [_call(server.url, key, f"eu-{uuid.uuid4().hex[:6]}") for _ in range(args.calls)]
            forwarder.heal()
        finally:
            server.stop()
            forwarder.close()
    simulator.stop()
    print("| case (database black-holed) | statuses | p50 ms | max ms |")
    print("| --- | --- | --- | --- |")
    print(_row("known key, cached limits", known))
    print(_row("new end user (fail_closed)", fresh))


if __name__ == "__main__":
    main()
