"""A failed call that consumed nothing cost exactly $0 whatever the price (even an unknown one); a
failed call that consumed tokens keeps its cost, unpriced with its reason when no price is known."""

from __future__ import annotations

import time
from decimal import Decimal

from ledgerlm.engine.call import Call, CallOptions
from ledgerlm.engine.record import build_record, failure_cost
from ledgerlm.errors import APIError, RateLimitError
from ledgerlm.providers.base import Deployment
from ledgerlm.types import CallContext, Cost, Usage

UNPRICED = Cost.unpriced("no price for openai/not-a-model", data_version="test")
DEPLOYMENT = Deployment(provider="openai", model="not-a-model", api_base="http://127.0.0.1:1/v1")


def _record(usage: Usage, cost: Cost, error: APIError | None) -> tuple[Decimal | None, str | None]:
    call = Call(
        CallOptions(CallContext(request_id="r-1"), "acompletion"),
        DEPLOYMENT,
        {"model": "not-a-model", "messages": []},
        start=time.time(),
        usage=usage,
        cost=cost,
    )
    record = build_record(call, error=error)
    assert record.response_cost == record.cost.total
    return record.cost.total, record.cost.unpriced_reason


def test_failure_without_usage_costs_exactly_zero() -> None:
    zero = failure_cost(Usage(), UNPRICED)
    assert zero.total == Decimal(0) and dict(zero.breakdown) == {} and zero.unpriced_reason is None
    request_fee = Cost(total=Decimal("0.01"), breakdown={"request": Decimal("0.01")})
    assert failure_cost(Usage(), request_fee).total == Decimal(0)  # a failed request is not billed
    error = RateLimitError("upstream 429", provider="openai", model="not-a-model")
    assert _record(Usage(), UNPRICED, error) == (Decimal(0), None)


def test_failure_with_usage_keeps_its_cost() -> None:
    used = Usage(input_tokens=12)
    assert failure_cost(used, UNPRICED) is UNPRICED
    assert failure_cost(Usage(web_search_requests=1), UNPRICED) is UNPRICED
    assert failure_cost(Usage(provider_cost=Decimal("0.002")), UNPRICED) is UNPRICED
    error = APIError("stream broke", provider="openai", model="not-a-model")
    assert _record(used, UNPRICED, error) == (None, "no price for openai/not-a-model")


def test_success_without_usage_is_untouched() -> None:
    assert _record(Usage(), UNPRICED, None) == (None, "no price for openai/not-a-model")
