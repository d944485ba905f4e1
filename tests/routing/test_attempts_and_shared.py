"""Every attempt in the ledger (``AttemptLedger`` with real records), and two proxy instances sharing
routing state (cooldowns) through Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from tests.routing.harness import RoutedProxy, deployment

from ledgerlm.engine.call import Call, CallOptions
from ledgerlm.engine.record import build_record
from ledgerlm.errors import APITimeoutError
from ledgerlm.providers.base import Deployment
from ledgerlm.record import CallRecord
from ledgerlm.routing.attempts import AttemptLedger, is_attempt_row
from ledgerlm.simulator import Simulator
from ledgerlm.types import CallContext, Cost, Usage


def _record(rid: str, tokens: int, cost: str | None, failed: bool) -> CallRecord:
    call = Call(
        CallOptions(CallContext(request_id=rid)),
        Deployment("openai", "gpt-4o", deployment_id="d1", model_group="g"),
        {"messages": [{"role": "user", "content": "x"}]},
        start=1.0,
    )
    call.usage = Usage(input_tokens=tokens, output_tokens=tokens)
    call.cost = Cost(total=None if cost is None else Decimal(cost))
    return build_record(
        call, error=APITimeoutError("read timed out after the first byte") if failed else None
    )


def test_attempt_ledger_routes_each_record() -> None:
    rid = str(uuid.uuid4())
    rows: list[CallRecord] = []
    attempts: list[CallRecord] = []
    ledger = AttemptLedger(rid, rows.append, attempts.append)
    ledger.next_attempt()(_record(rid, 0, "0", failed=True))  # 429 before the first byte: no row
    ledger.next_attempt()(_record(rid, 40, "0.0004", failed=True))  # billed, then failed: its own row
    final = ledger.next_attempt()
    ledger.finish({"attempts": 3, "attempted_retries": 2, "attempted_fallbacks": 0, "model_group": "g"})
    assert rows == [], "a stream's record arrives after the run; written then"
    final(_record(rid, 10, "0.0001", failed=False))
    (row,) = rows
    (attempt,) = attempts
    assert row.id == rid and row.metadata["routing"]["billable_attempts"] == [attempt.id]
    assert attempt.id == f"{rid}~attempt-2" and is_attempt_row(attempt.id) and not is_attempt_row(row.id)
    assert attempt.metadata["client_request_id"] == rid and attempt.response_cost == Decimal("0.0004")
    assert ledger.extra_cost == Decimal("0.0004")


@pytest.fixture(scope="module")
def two_proxies(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[tuple[RoutedProxy, ...]]:
    suffix = uuid.uuid4().hex[:8]
    with Simulator(models={"down": {"error_status": 500}}) as a, Simulator() as b:
        model_list = [
            deployment("pair", a.url, "down", info={"id": f"a-{suffix}"}),
            deployment("pair", b.url, "gpt-4o-mini", info={"id": f"b-{suffix}"}),
        ]
        settings = {"allowed_fails": 0, "cooldown_time": 30, "redis_url": redis_url, "num_retries": 3}
        folder = tmp_path_factory.mktemp("shared")
        (folder / "one").mkdir()
        (folder / "two").mkdir()
        database_url = f"sqlite:///{folder}/ledger.db"  # one ledger, two instances
        one = RoutedProxy(folder / "one", model_list, router_settings=settings, database_url=database_url)
        two = RoutedProxy(folder / "two", model_list, router_settings=settings, database_url=database_url)
        one.sim_a = a  # type: ignore[attr-defined]
        yield one, two
        one.close()
        two.close()


def test_cooldown_on_one_instance_is_seen_by_the_other(two_proxies: tuple[RoutedProxy, ...]) -> None:
    one, two = two_proxies
    sim_a = one.sim_a  # type: ignore[attr-defined]
    for _ in range(10):  # until instance one has picked the failing deployment once (then it cools down)
        one.chat("pair")
        if sim_a.requests:
            break
    assert len(sim_a.requests) == 1
    for _ in range(8):
        assert (
            two.chat("pair", num_retries=0, disable_fallbacks=True)
            .headers["x-litellm-model-id"]
            .startswith("b-")
        )
    assert len(sim_a.requests) == 1, "instance two never called the deployment instance one cooled down"
