"""``BudgetAdmission``: the admission contract (``ledgerlm.budgets.contract.Admission``) backed by
budgets and rate limits.

Per request: the entities that apply (``store_io.StoreLimits``, attribution rule) plus the serving
deployment's ``rpm``/``tpm`` -> ``Budgets.reserve`` at the deployment's compiled price -> the proxy sends
the call -> ``settle`` with the record's cost and tokens (or ``release``). ``start()`` (after the store is
up) picks the backend: ``RedisBudgets`` when ``redis_url`` / ``$REDIS_URL`` is set, else
``MemoryBudgets``; writes config tag budgets to the ``tags`` table; starts the reset loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.budgets.alerts import BudgetAlerts, HTTPAlertSender
from ledgerlm.budgets.backend import BudgetBackend
from ledgerlm.budgets.config import BudgetConfig, EntityBudget
from ledgerlm.budgets.contract import Reservation
from ledgerlm.budgets.durations import next_reset
from ledgerlm.budgets.estimate import RequestBounds
from ledgerlm.budgets.memory import MemoryBudgets
from ledgerlm.budgets.redis_backend import RedisBudgets
from ledgerlm.budgets.reservations import Budgets
from ledgerlm.budgets.reservations import Reservation as BudgetReservation
from ledgerlm.budgets.resets import ResetLoop
from ledgerlm.budgets.store_io import StoreLimits, StoreSpendLoader
from ledgerlm.budgets.types import EntityLimits
from ledgerlm.errors import PermissionDeniedError, ServiceUnavailableError
from ledgerlm.providers.as_sent import OutputLimits, output_limits, sent_body
from ledgerlm.providers.base import Deployment
from ledgerlm.store import tags as tag_store
from ledgerlm.types import CallContext

__all__ = ["BudgetAdmission", "refuse_blocked", "sync_config_tags"]

log = logging.getLogger("ledgerlm.budgets")

_RESERVATION = "budget"
_TOKENS = "tokens"


class BudgetAdmission:
    """Admission with budgets and rate limits. ``engine`` returns the store's engine (after it started);
    ``deployments`` maps deployment id -> its rate limits (``EntityLimits`` of kind ``deployment``)."""

    def __init__(
        self,
        config: BudgetConfig,
        engine: Callable[[], AsyncEngine],
        deployments: Mapping[str, EntityLimits] | None = None,
    ) -> None:
        self.config = config
        self._engine = engine
        self.deployments = dict(deployments or {})
        self.budgets: Budgets | None = None
        self.limits: StoreLimits | None = None
        self.backend: BudgetBackend | None = None
        self.resets: ResetLoop | None = None
        self.alerts: BudgetAlerts | None = None
        self._starting = asyncio.Lock()
        self._sender: HTTPAlertSender | None = None

    async def start(self) -> None:
        """Build the backend and engine, sync config tags, start the reset loop."""
        engine = self._engine()
        config = self.config
        global_budget = config.global_budget()
        loader = StoreSpendLoader(engine, global_budget)
        if config.redis_url:
            self.backend = RedisBudgets(url=config.redis_url, prefix=config.redis_prefix, loader=loader)
        else:
            self.backend = MemoryBudgets(loader=loader)
        await self.backend.start()
        self._sender = HTTPAlertSender(config.alert_settings())
        self.alerts = BudgetAlerts(self.backend, self._sender, config.alert_settings())
        self.budgets = Budgets(self.backend, config.settings(), on_settled=self.alerts)
        self.limits = StoreLimits(engine, cache_ttl_s=config.limits_cache_ttl_s, global_budget=global_budget)
        self.limits.io_timeout_s = config.io_timeout_s
        await sync_config_tags(engine, config.tags)
        self.resets = ResetLoop(
            engine,
            self.backend,
            interval_s=config.reset_interval_s,
            on_reset=lambda _refs: self.limits.invalidate() if self.limits else None,
        )
        self.resets.start()

    async def stop(self) -> None:
        """Stop the reset loop, deliver pending alerts and close connections."""
        if self.resets is not None:
            await self.resets.stop()
        if self.alerts is not None:
            await self.alerts.drain()
        if self._sender is not None:
            await self._sender.close()
        if self.backend is not None:
            await self.backend.close()

    async def reserve(self, ctx: CallContext, deployment: Deployment, body: dict[str, Any]) -> Reservation:
        """Reserve against every applicable budget and limit; raises 429 / 403 errors (see ``Budgets``)."""
        if self.budgets is None or self.limits is None:
            async with self._starting:  # the app normally starts it; else the first request does
                if self.budgets is None:
                    await self.start()
        assert self.budgets is not None and self.limits is not None
        try:
            return await self._reserve(ctx, deployment, body)
        except ServiceUnavailableError as exc:
            if exc.code != "budgets_unavailable" or self.config.on_io_timeout != "fail_open":
                raise
            log.warning("budgets unavailable, request %s admitted unreserved (fail_open)", ctx.request_id)
            return Reservation(request_id=ctx.request_id)

    async def _reserve(self, ctx: CallContext, deployment: Deployment, body: dict[str, Any]) -> Reservation:
        assert self.budgets is not None and self.limits is not None
        limits = self.deployments.get(deployment.deployment_id or "")
        try:  # StoreLimits has the deadline (io_timeout_s): a silent partition must not hang calls
            entities = await self.limits.entities(ctx, limits)
        except Exception as exc:  # database unreachable and these entities never seen: fail closed
            log.error("budget limits unreadable, request refused: %r", exc)
            raise ServiceUnavailableError(
                "budget limits are unavailable (database unreachable); request refused",
                code="budgets_unavailable",
            ) from exc
        refuse_blocked(entities)
        price = deployment.price
        held = await self.budgets.reserve(
            entities,
            price=price,
            body=body,
            request_id=ctx.request_id,
            bounds=RequestBounds(
                model_max_output=getattr(price, "max_output_tokens", None),
                sent=limits_as_sent(deployment, body),
            ),
        )
        return Reservation(request_id=ctx.request_id, amount=held.amount, data={_RESERVATION: held})

    async def settle(self, reservation: Reservation, cost: Decimal | None) -> None:
        """Settle to ``cost`` (USD) and ``reservation.data["tokens"]`` (set by the proxy) for tpm."""
        held = reservation.data.get(_RESERVATION)
        if isinstance(held, BudgetReservation) and self.budgets is not None:
            output = reservation.data.get("output_tokens")
            if isinstance(output, int):  # a finished call's output size (reservation_estimate: expected)
                self.budgets.observe_output(held, output)
            await self.budgets.settle(held, cost, int(reservation.data.get(_TOKENS) or 0))

    async def release(self, reservation: Reservation) -> None:
        """Give everything back (the call failed before any usage)."""
        held = reservation.data.get(_RESERVATION)
        if isinstance(held, BudgetReservation) and self.budgets is not None:
            await self.budgets.release(held)

    def headers(self, reservation: Reservation) -> dict[str, str]:
        """``x-ratelimit-*`` headers computed at admission."""
        held = reservation.data.get(_RESERVATION)
        return dict(held.headers) if isinstance(held, BudgetReservation) else {}

    def invalidate(self) -> None:
        """Drop cached limits (after a management update)."""
        if self.limits is not None:
            self.limits.invalidate()


async def sync_config_tags(engine: AsyncEngine, budgets: Mapping[str, EntityBudget]) -> None:
    """Store config tag budgets as registered tags (created, or their limit fields updated), so that
    the spend writer counts their spend and admission finds them like ``/tag/new`` tags."""
    now = datetime.now(UTC)
    for name, budget in budgets.items():
        fields = budget.model_dump()
        existing = await tag_store.get_tag(engine, name)
        duration = fields.get("budget_duration")
        keep = existing is not None and existing.get("budget_duration") == duration
        if duration and not keep:
            fields["budget_reset_at"] = next_reset(duration, now)
        if existing is None:
            await tag_store.create_tag(engine, name, fields)
        else:
            await tag_store.update_tag(engine, name, fields)


def limits_as_sent(deployment: Deployment, body: Mapping[str, Any]) -> OutputLimits | None:
    """The output limits of a chat ``body`` as the deployment's provider sends it upstream (issue 14:
    ``extra_body``, ``n`` / ``best_of``, translated thinking budgets ...); ``None`` for embeddings or a
    body the provider cannot build (the engine refuses it before sending, so nothing is spent)."""
    if "messages" not in body:
        return None
    sent = sent_body(deployment, body)
    return None if sent is None else output_limits(sent)


def refuse_blocked(entities: Sequence[EntityLimits]) -> None:
    """``PermissionDeniedError`` (403, code ``blocked``) when an entity of the request is blocked (an
    end user created or updated with ``blocked: true``; blocked keys and teams are refused at auth)."""
    for entity in entities:
        if entity.blocked:
            raise PermissionDeniedError(f"{entity.name} is blocked", code="blocked")
