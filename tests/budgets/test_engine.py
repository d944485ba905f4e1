"""The admission engine: worst-case reservation, rejections that name the entity, unpriced policy,
rate-limit errors with headers, and the overshoot bound under 50 concurrent requests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ledgerlm.budgets.estimate import RequestBounds, estimate_request
from ledgerlm.budgets.redis_backend import RedisBudgets
from ledgerlm.budgets.reservations import Budgets, BudgetSettings, Reservation
from ledgerlm.budgets.types import EntityLimits, EntityRef
from ledgerlm.errors import (
    BudgetExceededError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
)

from .conftest import Pair
from .prices import LinearPrice

BOUNDS = RequestBounds(model_max_output=16384)
PRICE = LinearPrice(Decimal("0.000001"), Decimal("0.000004"))
BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 100}
RESET = datetime(2026, 12, 1, tzinfo=UTC)


def worst_case() -> Decimal:
    estimate = estimate_request(BODY)
    cost = PRICE.max_cost(estimate.input_tokens, estimate.output_tokens)
    assert cost is not None
    return cost


async def test_fifty_concurrent_requests_budget_fits_five(pair: Pair) -> None:
    limit = worst_case() * 5 + worst_case() / 2
    key = EntityLimits(EntityRef("key", "k"), max_budget=limit, budget_reset_at=RESET)
    engines = [Budgets(pair.first), Budgets(pair.second)]

    async def one(i: int) -> Reservation | BudgetExceededError:
        try:
            return await engines[i % 2].reserve([key], price=PRICE, body=BODY, request_id=f"r{i}")
        except BudgetExceededError as exc:
            return exc

    results = await asyncio.gather(*(one(i) for i in range(50)))
    admitted = [r for r in results if isinstance(r, Reservation)]
    assert len(admitted) == 5
    # the provider honours max_tokens: every actual cost is at most the reservation
    actual = PRICE.max_cost(estimate_request(BODY).input_tokens // 3, 100)
    assert actual is not None
    for reservation in admitted:
        await engines[0].settle(reservation, actual, tokens=150)
    spend, reserved = await pair.first.spend(key.ref)
    assert reserved == 0
    assert Decimal(spend) / 10**9 == actual * 5 <= limit


async def test_budget_error_in_the_429_form_when_configured(pair: Pair) -> None:
    team = EntityLimits(EntityRef("team", "team-red"), max_budget=worst_case() / 2, budget_reset_at=RESET)
    settings = BudgetSettings(exceeded_status_code=429)
    with pytest.raises(BudgetExceededError) as caught:
        await Budgets(pair.first, settings).reserve([team], price=PRICE, body=BODY, request_id="r429")
    assert caught.value.status_code == 429 and caught.value.code == "budget_exceeded"
    assert caught.value.message.startswith("Budget exceeded for team 'team-red'")


async def test_budget_error_names_entity_spend_limit_and_reset(pair: Pair) -> None:
    team = EntityLimits(EntityRef("team", "team-blue"), max_budget=worst_case() / 2, budget_reset_at=RESET)
    with pytest.raises(BudgetExceededError) as caught:
        await Budgets(pair.first).reserve([team], price=PRICE, body=BODY, request_id="r")
    error = caught.value
    assert error.status_code == 422  # LiteLLM's default (litellm_settings.budget_exceeded_status_code)
    body = error.to_openai()["error"]
    assert body["type"] == "budget_exceeded" and body["code"] == "422"
    assert error.message.startswith("Budget has been exceeded! team 'team-blue': Current cost: ")
    assert "team 'team-blue'" in error.message
    assert f"max_budget ${worst_case() / 2}" in error.message
    assert "spend $0" in error.message
    assert RESET.isoformat() in error.message
    assert "this request alone exceeds the budget" in error.message


async def test_unpriced_model_rejected_by_default_and_admitted_when_configured(pair: Pair) -> None:
    key = EntityLimits(EntityRef("key", "k"), max_budget=Decimal(10))
    unpriced = LinearPrice(None, None)
    with pytest.raises(PermissionDeniedError, match="no known price"):
        await Budgets(pair.first).reserve([key], price=unpriced, body=BODY, request_id="r")
    admit = Budgets(pair.first, BudgetSettings(unpriced="admit"))
    reservation = await admit.reserve([key], price=unpriced, body=BODY, request_id="r")
    assert reservation.amount is None and reservation.held
    await admit.settle(reservation, None)
    assert await pair.first.spend(key.ref) == (0, 0)
    # no budget applies: unpriced is fine and nothing is held
    free = await Budgets(pair.first).reserve([], price=unpriced, body=BODY, request_id="r")
    assert not free.held


async def test_rate_limit_error_has_retry_after_and_openai_headers(pair: Pair) -> None:
    key = EntityLimits(EntityRef("key", "k"), rpm_limit=2)
    budgets = Budgets(pair.first, clock=lambda: 1_800_000_010.0)
    first = await budgets.reserve([key], price=PRICE, body=BODY, request_id="a")
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    await budgets.reserve([key], price=PRICE, body=BODY, request_id="b")
    with pytest.raises(RateLimitError) as caught:
        await budgets.reserve([key], price=PRICE, body=BODY, request_id="c")
    error = caught.value
    assert not isinstance(error, BudgetExceededError)
    assert error.status_code == 429
    assert error.headers["retry-after"] == "50"
    assert error.headers["x-ratelimit-limit-requests"] == "2"
    assert error.headers["x-ratelimit-remaining-requests"] == "0"
    assert error.headers["x-ratelimit-reset-requests"] == "50s"
    assert "rpm_limit is 2" in error.message


async def test_settle_and_release_are_idempotent(pair: Pair) -> None:
    key = EntityLimits(EntityRef("key", "k"), max_budget=Decimal(1))
    budgets = Budgets(pair.first)
    reservation = await budgets.reserve([key], price=PRICE, body=BODY, request_id="a")
    await budgets.settle(reservation, Decimal("0.25"))
    await budgets.settle(reservation, Decimal("0.25"))
    await budgets.release(reservation)
    assert await pair.first.spend(key.ref) == (250_000_000, 0)


async def test_unreachable_redis_fails_closed_with_503() -> None:
    """A real Redis client pointed at a closed port: admission refuses instead of letting spend through."""
    backend = RedisBudgets(url="redis://127.0.0.1:1/0", prefix="{unreachable}")
    key = EntityLimits(EntityRef("key", "k"), max_budget=Decimal(1))
    try:
        with pytest.raises(ServiceUnavailableError) as caught:
            await Budgets(backend).reserve([key], price=PRICE, body=BODY, request_id="r")
    finally:
        await backend.close()
    assert caught.value.status_code == 503 and caught.value.code == "budgets_unavailable"


async def test_reservation_estimate_none_admits_a_small_budget_until_spent(pair: Pair) -> None:
    """``reservation_estimate: none``: a budget smaller than one request's worst case admits the first
    call (``worst_case`` refuses it) and refuses once spend reaches ``max_budget`` (LiteLLM's check)."""
    small = worst_case() / 2
    key = EntityLimits(EntityRef("key", "k-small"), max_budget=small)
    with pytest.raises(BudgetExceededError):
        await Budgets(pair.first).reserve([key], price=PRICE, body=BODY, request_id="w")
    lenient = Budgets(pair.first, BudgetSettings(reservation_estimate="none"))
    first = await lenient.reserve([key], price=PRICE, body=BODY, request_id="n1")
    assert first.amount is not None and first.amount < small
    await lenient.settle(first, small)  # the call cost exactly the budget
    with pytest.raises(BudgetExceededError):
        await lenient.reserve([key], price=PRICE, body=BODY, request_id="n2")


async def test_reservation_estimate_expected_holds_recent_output_sizes(pair: Pair) -> None:
    """``reservation_estimate: expected``: with no ``max_tokens`` the worst case (the model's maximum
    output) refuses a small budget; ``expected`` holds ``expected_default_tokens`` before the model's
    first call, then the p95 of its recent output sizes, never more than the request's ``max_tokens``."""
    body = {"model": "gpt-exp", "messages": [{"role": "user", "content": "hello"}]}
    key = EntityLimits(EntityRef("key", "k-exp"), max_budget=Decimal("0.01"))
    with pytest.raises(BudgetExceededError):
        await Budgets(pair.first).reserve([key], price=PRICE, body=body, request_id="w", bounds=BOUNDS)
    settings = BudgetSettings(reservation_estimate="expected", expected_default_tokens=200)
    budgets = Budgets(pair.first, settings)
    first = await budgets.reserve([key], price=PRICE, body=body, request_id="e1", bounds=BOUNDS)
    input_tokens = first.estimate.input_tokens
    assert first.amount == PRICE.max_cost(input_tokens, 200)
    budgets.observe_output(first, 40)
    await budgets.settle(first, Decimal("0.0001"))
    for size in [10] * 18 + [30]:
        budgets.history.observe("gpt-exp", size)
    second = await budgets.reserve([key], price=PRICE, body=body, request_id="e2", bounds=BOUNDS)
    assert second.amount == PRICE.max_cost(input_tokens, 30)  # p95 (nearest rank) of 20 sizes: the 19th
    capped = {**body, "max_tokens": 5}
    third = await budgets.reserve([key], price=PRICE, body=capped, request_id="e3", bounds=BOUNDS)
    assert third.amount is not None and third.amount <= PRICE.max_cost(third.estimate.input_tokens, 5)
