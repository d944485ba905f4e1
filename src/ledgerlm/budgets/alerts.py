"""Budget alerts: soft budget and thresholds (50/80/100% of ``max_budget`` by default), each sent once
per entity and budget period, to generic webhooks (JSON event) and Slack incoming webhooks
(``{"text": ...}``, https://api.slack.com/messaging/webhooks).

De-duplication: ``backend.mark_once("<slug>|<period>|<event>")`` (an in-process set, or ``SET NX`` in
Redis shared by every instance) where the period is the entity's ``budget_reset_at`` (``"none"`` without
a duration), so the same alert comes again only after a reset. Delivery runs in background tasks
(``drain()`` waits for them) so that a slow webhook never delays a response; it never raises: a failed
delivery is logged and counted in ``failures``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import aiohttp

from ledgerlm.budgets.backend import BudgetBackend
from ledgerlm.budgets.money import from_nano
from ledgerlm.budgets.reservations import Reservation
from ledgerlm.budgets.types import EntityLimits

__all__ = [
    "Alert",
    "AlertSender",
    "AlertSettings",
    "BudgetAlert",
    "BudgetAlerts",
    "HTTPAlertSender",
    "crossed",
]

log = logging.getLogger("ledgerlm.budgets")

DEFAULT_THRESHOLDS = (Decimal("0.5"), Decimal("0.8"), Decimal("1"))
_NO_PERIOD_TTL_S = 365 * 86400.0


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """One alert. ``event``: ``"soft_budget"`` or ``"threshold_<percent>"``; money in USD."""

    entity_kind: str
    entity_id: str
    entity_label: str
    event: str
    spend: Decimal
    limit: Decimal
    max_budget: Decimal | None
    budget_reset_at: datetime | None

    def text(self) -> str:
        """One human line (Slack message)."""
        what = "soft budget" if self.event == "soft_budget" else f"{self.event.split('_')[1]}% of budget"
        reset = self.budget_reset_at.isoformat() if self.budget_reset_at else "never"
        return (
            f"ledgerlm budget alert: {self.entity_label} reached {what}: spend ${self.spend} "
            f"of ${self.limit} (max_budget: {self.max_budget}); resets at {reset}"
        )

    def to_json(self) -> dict[str, Any]:
        """The webhook event: amounts as decimal strings, times ISO 8601 UTC."""
        return {
            "type": "budget_alert",
            "event": self.event,
            "entity_kind": self.entity_kind,
            "entity_id": self.entity_id,
            "spend": str(self.spend),
            "limit": str(self.limit),
            "max_budget": None if self.max_budget is None else str(self.max_budget),
            "budget_reset_at": self.budget_reset_at.isoformat() if self.budget_reset_at else None,
            "message": self.text(),
        }


class Alert(Protocol):
    """What a sender delivers: a ``BudgetAlert``, or another event with the same two methods (the
    proxy's operational alerts, ``ledgerlm.proxy.ops_alerts``)."""

    def text(self) -> str:
        """One human line (Slack message)."""

    def to_json(self) -> dict[str, Any]:
        """The webhook event."""


class AlertSender(Protocol):
    async def send(self, alert: Alert) -> None:
        """Deliver ``alert``; must not raise."""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """``thresholds``: fractions of ``max_budget`` (0.5 = 50%); URLs for webhooks and Slack;
    ``slack_alerter``: also send the text through ``ledgerlm.integrations.slack.alert`` (the ``slack``
    callback's webhook, or ``$SLACK_WEBHOOK_URL``)."""

    thresholds: tuple[Decimal, ...] = DEFAULT_THRESHOLDS
    webhook_urls: tuple[str, ...] = ()
    slack_webhook_urls: tuple[str, ...] = ()
    timeout_s: float = 5.0
    slack_alerter: bool = False


@dataclass
class HTTPAlertSender:
    """POSTs the JSON event to each webhook URL and ``{"text": ...}`` to each Slack URL."""

    settings: AlertSettings
    failures: int = 0
    sent: int = 0
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)

    async def send(self, alert: Alert) -> None:
        """Deliver to every URL concurrently; failures are logged (never the URL's secret path)."""
        posts = [(url, alert.to_json()) for url in self.settings.webhook_urls]
        posts += [(url, {"text": alert.text()}) for url in self.settings.slack_webhook_urls]
        if self.settings.slack_alerter:
            from ledgerlm.integrations.slack import alert as slack_alert

            slack_alert(alert.text())  # queued by the Slack exporter; never blocks or raises
        if posts:
            await asyncio.gather(*(self._post(url, body) for url, body in posts))

    async def _post(self, url: str, body: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s)
            )
        try:
            async with self._session.post(url, json=body) as response:
                if response.status >= 400:
                    raise RuntimeError(f"HTTP {response.status}")
            self.sent += 1
        except Exception as exc:  # delivery must never break settlement
            self.failures += 1
            host = url.split("/")[2] if "//" in url else "?"
            log.warning("budget alert delivery to %s failed: %s", host, exc)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def crossed(entity: EntityLimits, spend: Decimal, thresholds: Sequence[Decimal]) -> list[tuple[str, Decimal]]:
    """``(event, limit USD)`` for every alert level ``spend`` (USD) has reached."""
    events: list[tuple[str, Decimal]] = []
    if entity.soft_budget is not None and spend >= entity.soft_budget:
        events.append(("soft_budget", entity.soft_budget))
    if entity.max_budget is not None and entity.max_budget > 0:
        for fraction in thresholds:
            level = entity.max_budget * fraction
            if spend >= level:
                events.append((f"threshold_{int(fraction * 100)}", level))
    return events


class BudgetAlerts:
    """The ``on_settled`` hook of ``Budgets``: checks each budgeted entity of a settled reservation."""

    def __init__(
        self,
        backend: BudgetBackend,
        sender: AlertSender,
        settings: AlertSettings | None = None,
        *,
        background: bool = True,
    ) -> None:
        self.backend = backend
        self.sender = sender
        self.settings = settings or AlertSettings()
        self.background = background
        self._tasks: set[asyncio.Task[None]] = set()

    async def drain(self) -> None:
        """Wait until every alert scheduled so far was delivered (or failed)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def _deliver(self, alert: BudgetAlert) -> Awaitable[None] | None:
        if not self.background:
            return self.sender.send(alert)
        task = asyncio.get_running_loop().create_task(self.sender.send(alert))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return None

    async def __call__(self, reservation: Reservation) -> None:
        for entity in reservation.entities:
            if entity.alerts_apply:
                await self.check(entity)

    async def check(self, entity: EntityLimits, now: datetime | None = None) -> list[BudgetAlert]:
        """Send every alert ``entity`` has reached and not yet sent this period; returns those sent
        (scheduled, when ``background``)."""
        spend = from_nano((await self.backend.spend(entity.ref))[0])
        period = entity.budget_reset_at.isoformat() if entity.budget_reset_at else "none"
        ttl = _NO_PERIOD_TTL_S
        if entity.budget_reset_at is not None:
            ttl = max(60.0, (entity.budget_reset_at - (now or datetime.now(UTC))).total_seconds() + 60)
        sent: list[BudgetAlert] = []
        for event, limit in crossed(entity, spend, self.settings.thresholds):
            if not await self.backend.mark_once(f"alert|{entity.ref.slug}|{period}|{event}", ttl):
                continue
            alert = BudgetAlert(
                entity.ref.kind,
                entity.ref.id,
                entity.ref.label,
                event,
                spend,
                limit,
                entity.max_budget,
                entity.budget_reset_at,
            )
            pending = self._deliver(alert)
            if pending is not None:
                await pending
            sent.append(alert)
        return sent
