"""Live reports (``--pull`` and the daily job): the provider's admin endpoints, paged to the end.

* openai (``$OPENAI_ADMIN_KEY``, Bearer): ``GET /v1/organization/costs?start_time&end_time&
  bucket_width=1d&group_by=line_item`` and ``GET /v1/organization/usage/<kind>`` for completions,
  embeddings, images, audio_speeches, audio_transcriptions (``group_by=model``); epoch seconds,
  ``end_time`` exclusive.
* anthropic (``$ANTHROPIC_ADMIN_KEY``, ``x-api-key``): ``GET /v1/organizations/cost_report?starting_at&
  ending_at&group_by[]=description`` and ``GET /v1/organizations/usage_report/messages``
  (``bucket_width=1d&group_by[]=model``); RFC 3339, ``ending_at`` exclusive.
* openrouter (``$OPENROUTER_API_KEY``, Bearer): ``GET /api/v1/activity?date=YYYY-MM-DD`` per day.

Paging follows ``has_more`` / ``next_page`` (sent back as ``page``) until the last page; a 429 or
5xx answer is retried (``RETRIES`` attempts, honouring ``Retry-After`` up to ``MAX_WAIT_S``). With
``by_account`` the reports are also grouped by ``project_id`` (OpenAI) / ``workspace_id`` (Anthropic).
A non-2xx answer raises ``PullError`` naming the endpoint and status (never the key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import aiohttp

from ledgerlm.ledger.reconcile.openai_report import USAGE_PATHS
from ledgerlm.ledger.reconcile.report import parse_json

__all__ = ["ADMIN_KEY_ENV", "DEFAULT_BASES", "PullError", "PullRequest", "pull_pages"]

ADMIN_KEY_ENV = {
    "openai": "OPENAI_ADMIN_KEY",
    "anthropic": "ANTHROPIC_ADMIN_KEY",
    "openrouter": "OPENROUTER_API_KEY",
}
DEFAULT_BASES = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "openrouter": "https://openrouter.ai",
}
MAX_PAGES = 1000
Query = list[tuple[str, str]]


class PullError(RuntimeError):
    """A report endpoint answered an error or something that is not a report page."""


@dataclass(frozen=True, slots=True)
class PullRequest:
    """What to pull: ``provider``, inclusive UTC days, the admin ``key``, ``api_base`` (no path),
    ``by_account`` grouping, ``timeout_s`` per page."""

    provider: str
    start: date
    end: date
    key: str
    api_base: str | None = None
    by_account: bool = False
    timeout_s: float = 60.0


def _bounds(request: PullRequest) -> tuple[datetime, datetime]:
    low = datetime.combine(request.start, time(), UTC)
    return low, datetime.combine(request.end + timedelta(days=1), time(), UTC)


def _openai_queries(request: PullRequest) -> list[tuple[str, Query]]:
    low, high = _bounds(request)
    window = [("start_time", str(int(low.timestamp()))), ("end_time", str(int(high.timestamp())))]
    window.append(("bucket_width", "1d"))
    account = [("group_by", "project_id")] if request.by_account else []
    days = str(min(180, (request.end - request.start).days + 1))
    out = [("/v1/organization/costs", [*window, ("group_by", "line_item"), *account, ("limit", days)])]
    for path in USAGE_PATHS:
        group = [("group_by", "model")] if path in ("usage/completions", "usage/embeddings") else []
        out.append((f"/v1/organization/{path}", [*window, *group, *account, ("limit", "31")]))
    return out


def _anthropic_queries(request: PullRequest) -> list[tuple[str, Query]]:
    low, high = _bounds(request)
    window = [
        ("starting_at", low.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("ending_at", high.strftime("%Y-%m-%dT%H:%M:%SZ")),
    ]
    account = [("group_by[]", "workspace_id")] if request.by_account else []
    cost = [*window, ("group_by[]", "description"), *account, ("limit", "31")]
    usage = [*window, ("bucket_width", "1d"), ("group_by[]", "model"), *account, ("limit", "31")]
    return [("/v1/organizations/cost_report", cost), ("/v1/organizations/usage_report/messages", usage)]


def _openrouter_queries(request: PullRequest) -> list[tuple[str, Query]]:
    days = (request.end - request.start).days + 1
    return [
        ("/api/v1/activity", [("date", (request.start + timedelta(days=n)).isoformat())]) for n in range(days)
    ]


def _headers(request: PullRequest) -> dict[str, str]:
    if request.provider == "anthropic":
        return {"x-api-key": request.key, "anthropic-version": "2023-06-01"}
    return {"authorization": f"Bearer {request.key}"}


RETRIES = 3
"""Attempts per page on 429 / 5xx (waiting ``Retry-After`` seconds, at most ``MAX_WAIT_S``)."""
MAX_WAIT_S = 10.0


async def _get(session: aiohttp.ClientSession, url: str, query: Query) -> Any:
    for attempt in range(RETRIES):
        async with session.get(url, params=query) as response:
            body = await response.read()
            status, retry_after = response.status, response.headers.get("Retry-After")
        if (status == 429 or status >= 500) and attempt + 1 < RETRIES:
            wait = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else 1.0
            await asyncio.sleep(min(MAX_WAIT_S, wait))
            continue
        if status >= 400:
            raise PullError(f"GET {url.split('//', 1)[-1]} answered HTTP {status}: {body[:300]!r}")
        break
    try:
        return parse_json(body)
    except ValueError:
        raise PullError(f"GET {url} did not answer JSON") from None


async def _paged(session: aiohttp.ClientSession, url: str, query: Query) -> list[Any]:
    pages: list[Any] = []
    page_token: str | None = None
    for _ in range(MAX_PAGES):
        page = await _get(session, url, query + ([("page", page_token)] if page_token else []))
        if not isinstance(page, dict):
            raise PullError(f"GET {url} did not answer a page object")
        pages.append(page)
        page_token = page.get("next_page") if page.get("has_more") else None
        if not page_token:
            return pages
    raise PullError(f"GET {url}: more than {MAX_PAGES} pages")


async def pull_pages(request: PullRequest) -> list[Any]:
    """Every page of ``request.provider``'s reports for the window (see module doc)."""
    plans = {"openai": _openai_queries, "anthropic": _anthropic_queries, "openrouter": _openrouter_queries}
    if request.provider not in plans:
        raise PullError(f"--pull is not available for {request.provider!r}: pass --report FILE")
    base = (request.api_base or DEFAULT_BASES[request.provider]).rstrip("/")
    timeout = aiohttp.ClientTimeout(total=request.timeout_s)
    pages: list[Any] = []
    async with aiohttp.ClientSession(headers=_headers(request), timeout=timeout) as session:
        for path, query in plans[request.provider](request):
            pages.extend(await _paged(session, base + path, query))
    return pages


def pages_of(documents: Sequence[Any]) -> list[Any]:
    """Flatten documents that are lists of pages."""
    out: list[Any] = []
    for document in documents:
        out.extend(document if isinstance(document, list) else [document])
    return out
