"""Admission by reservation: reserve a request's worst-case cost against every budget that applies to it,
atomically, then settle to the actual cost (or release) when the call ends.

::

    reserve(entities, price, body) -> Reservation      raises BudgetExceededError (429 budget_exceeded),
                                                        RateLimitError (429, Retry-After, x-ratelimit-*),
                                                        PermissionDeniedError (403, unpriced model),
                                                        ServiceUnavailableError (503, counters down)
    settle(reservation, cost, tokens)                  actual cost (USD Decimal, None: unpriced) and tokens
    release(reservation)                               the call failed before any usage

Overshoot bound: a budget's settled spend never exceeds ``max_budget`` by more than the sum, over the
requests admitted against it, of ``actual cost - reserved worst case`` where positive. That difference
is zero when the provider honours the request's output limit (``max_tokens`` ...), the input bound holds
(see ``estimate``), and the price is known; it is positive only for requests whose output limit was
unknown (the fallback), for unpriced models admitted by ``unpriced: admit`` (their cost is not counted),
for requests outliving their lease, and for settled spend not yet in the database when counters are
rebuilt (a Redis restart).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from ledgerlm.budgets.backend import BudgetBackend
from ledgerlm.budgets.estimate import (
    Estimate,
    EstimateSettings,
    RequestBounds,
    estimate_request,
    worst_case_cost,
)
from ledgerlm.budgets.expected import OutputHistory
from ledgerlm.budgets.headers import format_reset, rate_headers, retry_after_seconds
from ledgerlm.budgets.money import from_nano, to_nano
from ledgerlm.budgets.types import AdmitPlan, AdmitResult, BudgetCheck, EntityLimits, RateCheck
from ledgerlm.errors import (
    BudgetExceededError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
)
from ledgerlm.store.bounds import MAX_SPEND, MAX_TOKENS

__all__ = ["BudgetSettings", "Budgets", "Reservation"]

ReservationEstimate = Literal["worst_case", "expected", "none"]
NO_HOLD = Decimal("0.000000001")
"""What ``reservation_estimate: none`` holds: one nano-dollar, so a budget whose spend has reached
``max_budget`` still refuses (spend + hold > max_budget), as LiteLLM's ``spend >= max_budget`` does."""

log = logging.getLogger("ledgerlm.budgets")

UnpricedPolicy = Literal["reject", "admit"]


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    """``unpriced``: what to do with an unpriced model when a budget applies (``reject``: 403;
    ``admit``: let it through with a warning, its cost not counted); ``lease_s``: seconds after which
    an unsettled reservation (a crashed instance) is reclaimed; ``estimate``: token allowances;
    ``exceeded_status_code``: the HTTP status of a budget refusal (LiteLLM's default 422, with LiteLLM's
    message ``Budget has been exceeded! ... Current cost: X, Max budget: Y`` and ``code`` = the status;
    429: ledgerlm's rate-limit form with ``Retry-After``-style ``x-ratelimit-*`` headers);
    ``reservation_estimate``: what a request holds on its budgets while in flight: ``worst_case`` (its
    worst-case cost: a budget is never exceeded), ``expected`` (the input bound plus the
    ``expected_quantile`` of the output sizes of the model's last ``expected_window`` calls,
    ``expected_default_tokens`` before any, never above the worst case: a call whose output is larger
    than that may overshoot the budget by the difference) or ``none`` (nothing: a request is admitted
    while spend plus what is reserved is below ``max_budget``, LiteLLM's check, so a small budget is
    not refused on the first call; the overshoot is bounded by the cost of the calls in flight when the
    budget runs out);
    ``io_timeout_s``: deadline of each counter operation (seconds; admit past it: 503)."""

    unpriced: UnpricedPolicy = "reject"
    lease_s: float = 600.0
    estimate: EstimateSettings = field(default_factory=EstimateSettings)
    exceeded_status_code: int = 422
    reservation_estimate: ReservationEstimate = "worst_case"
    io_timeout_s: float = 5.0
    expected_window: int = 100
    expected_quantile: float = 0.95
    expected_default_tokens: int = 512


@dataclass(slots=True)
class Reservation:
    """One admitted request. ``amount``: USD reserved on each budget (``None``: admitted unpriced);
    ``headers``: ``x-ratelimit-*`` headers for the response; ``held``: counters were touched."""

    id: str
    request_id: str
    amount: Decimal | None
    estimate: Estimate
    entities: tuple[EntityLimits, ...]
    headers: dict[str, str] = field(default_factory=dict)
    held: bool = False
    closed: bool = False
    model: str = ""


SettledHook = Callable[[Reservation], Awaitable[None]]


class Budgets:
    """The admission engine over a ``BudgetBackend`` (``MemoryBudgets`` or ``RedisBudgets``).

    ``on_settled`` runs after each settle (alerts); ``clock`` returns UNIX seconds (tests move it).
    """

    def __init__(
        self,
        backend: BudgetBackend,
        settings: BudgetSettings | None = None,
        *,
        on_settled: SettledHook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.settings = settings or BudgetSettings()
        self.on_settled = on_settled
        self.clock = clock
        s = self.settings
        self.history = OutputHistory(s.expected_window, s.expected_quantile, s.expected_default_tokens)

    async def reserve(
        self,
        entities: Sequence[EntityLimits],
        *,
        price: Any,
        body: Mapping[str, Any],
        request_id: str,
        bounds: RequestBounds | None = None,
    ) -> Reservation:
        """Reserve ``body``'s worst-case cost at ``price`` against every budget in ``entities`` and count
        it against every rate limit, all or nothing. ``bounds``: what else bounds the request's tokens
        (``bounds.sent``: the output limits of the body as sent upstream). Raises as listed in the
        module docstring."""
        bounds = bounds or RequestBounds()
        estimate = estimate_request(
            body,
            body_bytes=bounds.body_bytes,
            model_max_output=bounds.model_max_output,
            context_window=bounds.context_window,
            settings=self.settings.estimate,
            sent=bounds.sent,
        )
        model = str(body.get("model") or "")
        cost = worst_case_cost(price, self._held(estimate, model))
        estimate = Estimate(estimate.input_tokens, estimate.output_tokens, estimate.output_bounded, cost)
        budgets = [e for e in entities if e.has_budget]
        amount = self._amount(cost, budgets, body)
        if amount is not None and self.settings.reservation_estimate == "none":
            amount = NO_HOLD
        reservation = Reservation(uuid.uuid4().hex, request_id, amount, estimate, tuple(entities))
        reservation.model = model
        plan = self._plan(reservation, entities)
        if not (plan.budgets or plan.rates or plan.track):
            return reservation
        result = await self._admit(plan)
        if not result.ok:
            raise self._rejection(result, reservation)
        reservation.held = True
        reservation.headers = rate_headers(result.rates)
        return reservation

    async def _admit(self, plan: AdmitPlan) -> AdmitResult:
        """``backend.admit`` within ``io_timeout_s``; counters unreachable: 503 (hard budgets fail closed)."""
        try:
            async with asyncio.timeout(self.settings.io_timeout_s):
                return await self.backend.admit(plan, self.clock())
        except Exception as exc:  # Redis or the database unreachable: hard budgets fail closed
            wait = getattr(exc, "retry_after_s", None)
            if wait is not None:  # a rebuild's quiet window (RedisBudgets): every instance restores holds
                raise ServiceUnavailableError(
                    f"{exc}; budgeted requests wait until every instance restored its calls in flight",
                    code="budgets_rebuilding",
                    headers={"retry-after": str(retry_after_seconds(wait))},
                    retry_after=float(retry_after_seconds(wait)),
                ) from exc
            log.error("budget counters unavailable, request refused: %r", exc)
            raise ServiceUnavailableError(
                "budget and rate-limit counters are unavailable; request refused", code="budgets_unavailable"
            ) from exc

    def _held(self, estimate: Estimate, model: str) -> Estimate:
        """The tokens a request holds: the worst case, or with ``expected`` its output bound lowered
        to the model's recent output sizes (``OutputHistory``)."""
        if self.settings.reservation_estimate != "expected" or estimate.output_tokens == 0:
            return estimate
        output = self.history.expected(model, estimate.output_tokens)
        return Estimate(estimate.input_tokens, output, estimate.output_bounded)

    def observe_output(self, reservation: Reservation, output_tokens: int) -> None:
        """Learn a finished call's output size for ``expected`` reservations of its model."""
        if self.settings.reservation_estimate == "expected":
            self.history.observe(reservation.model, output_tokens)

    def _amount(
        self, cost: Decimal | None, budgets: list[EntityLimits], body: Mapping[str, Any]
    ) -> Decimal | None:
        if cost is not None or not budgets:
            return cost
        model = body.get("model")
        if self.settings.unpriced == "reject":
            raise PermissionDeniedError(
                f"model {model!r} has no known price, so the budget of {budgets[0].ref.label} cannot be "
                "enforced; add a custom price for it or set budget_settings.unpriced_models: admit",
                code="unpriced_model",
            )
        log.warning("admitting unpriced model %r under a budget; its cost is not counted", model)
        return None

    def _plan(self, reservation: Reservation, entities: Sequence[EntityLimits]) -> AdmitPlan:
        amount_nano = 0 if reservation.amount is None else to_nano(reservation.amount)
        budgets = tuple(
            BudgetCheck(e.ref, to_nano(e.max_budget), _period(e))
            for e in entities
            if e.max_budget is not None
        )
        rates = tuple(
            RateCheck(e.ref, e.rpm_limit, e.tpm_limit, e.max_parallel_requests)
            for e in entities
            if e.has_rate_limit
        )
        track = tuple(e.ref for e in entities if e.max_budget is None and e.soft_budget is not None)
        return AdmitPlan(reservation.id, amount_nano, budgets, rates, track, self.settings.lease_s)

    def _rejection(self, result: AdmitResult, reservation: Reservation) -> RateLimitError:
        assert result.ref is not None
        entity = next(e for e in reservation.entities if e.ref == result.ref)
        if result.outcome == "budget":
            return _budget_error(result, entity, reservation, self.settings.exceeded_status_code)
        reset_s = min((s.window_reset_s for s in result.rates), default=1.0)
        wait = 1.0 if result.outcome == "parallel" else reset_s
        names = {"rpm": "rpm_limit", "tpm": "tpm_limit", "parallel": "max_parallel_requests"}
        headers = rate_headers(result.rates)
        headers["retry-after"] = str(retry_after_seconds(wait))
        message = (
            f"Rate limit exceeded for {entity.name}: {names[result.outcome]} is {result.limit} "
            f"(current: {result.count}); retry in {format_reset(wait)}"
        )
        return RateLimitError(message, headers=headers, retry_after=float(retry_after_seconds(wait)))

    async def settle(self, reservation: Reservation, cost: Decimal | None, tokens: int = 0) -> None:
        """Settle to ``cost`` (USD; ``None`` counts as $0: unpriced) and count ``tokens`` (input + output)
        toward tpm limits. Idempotent: a second settle or release does nothing."""
        if reservation.closed:
            return
        reservation.closed = True
        if not reservation.held:
            return
        actual = 0 if cost is None else to_nano(min(max(cost, Decimal(0)), MAX_SPEND))  # as stored
        try:
            async with asyncio.timeout(self.settings.io_timeout_s):
                await self.backend.settle(
                    reservation.id, actual, max(0, min(tokens, MAX_TOKENS)), self.clock()
                )
        except Exception:  # never breaks the response; the lease frees the hold, the database has the cost
            log.exception("budget settle failed for reservation %s", reservation.id)
            return
        if self.on_settled is not None:
            try:
                await self.on_settled(reservation)
            except Exception:
                log.exception("budget alert check failed")

    async def release(self, reservation: Reservation) -> None:
        """Give the reservation back without spend (the call failed before any usage was seen)."""
        if reservation.closed:
            return
        reservation.closed = True
        if reservation.held:
            try:
                async with asyncio.timeout(self.settings.io_timeout_s):
                    await self.backend.release(reservation.id)
            except Exception:  # the lease frees the hold
                log.exception("budget release failed for reservation %s", reservation.id)


def _budget_error(
    result: AdmitResult, entity: EntityLimits, reservation: Reservation, status: int = 422
) -> BudgetExceededError:
    """The refusal: LiteLLM's form (``status``, ``type`` ``budget_exceeded``, ``code`` the status as a
    string, the message opening with LiteLLM's sentence) unless ``status`` is 429 (ledgerlm's form)."""
    spend, reserved, limit = (from_nano(v) for v in (result.spend_nano, result.reserved_nano, result.limit))
    reset = entity.budget_reset_at.isoformat() if entity.budget_reset_at else "never (no budget_duration)"
    wanted = reservation.amount or Decimal(0)
    message = (
        f"Budget exceeded for {entity.name}: spend ${spend} "
        f"+ ${reserved} reserved by requests in flight + this request's worst-case cost ${wanted} "
        f"would exceed max_budget ${limit}; budget resets at {reset}"
    )
    if wanted > limit:
        message += "; this request alone exceeds the budget: lower max_tokens"
    if status == 429:
        return BudgetExceededError(message)
    litellm = f"Budget has been exceeded! {entity.name}: Current cost: {spend}, Max budget: {limit}. "
    return BudgetExceededError(litellm + message, status_code=status, code=str(status))


def _period(entity: EntityLimits) -> str:
    return entity.budget_reset_at.isoformat() if entity.budget_reset_at is not None else ""
