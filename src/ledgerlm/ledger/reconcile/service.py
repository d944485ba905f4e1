"""One reconciliation, end to end: the provider's report (files or a live pull) + the ledger -> result.

``await run(job, engine)`` -> ``ReconcileResult``. ``job`` is a ``ReconcileJob`` (provider, inclusive UTC
days, report files or a ``PullRequest``, tolerance, account mapping). ``accounts_from_config(config)``
reads the deployments' provider-side ids (``model_info.provider_account_id``: the project / workspace
/ API key id the deployment's key belongs to) from a proxy config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.ledger.reconcile.anthropic_report import read_anthropic_pages
from ledgerlm.ledger.reconcile.csv_report import read_csv_report
from ledgerlm.ledger.reconcile.ledger_side import PROVIDER_NAMES, ledger_lines
from ledgerlm.ledger.reconcile.matcher import MatchInputs, MatchSettings, reconcile
from ledgerlm.ledger.reconcile.model import ReconcileResult
from ledgerlm.ledger.reconcile.openai_report import read_openai_pages
from ledgerlm.ledger.reconcile.openrouter_report import read_openrouter_pages
from ledgerlm.ledger.reconcile.pull import PullRequest, pull_pages
from ledgerlm.ledger.reconcile.report import JsonReader, ProviderReport, ReportError, load_report

__all__ = ["PROVIDERS", "ReconcileJob", "accounts_from_config", "read_pages", "run"]


def _csv_only(pages: Sequence[Any]) -> ProviderReport:
    raise ReportError("this provider's bill is read from its CSV billing export (--report FILE.csv)")


JSON_READERS: dict[str, JsonReader] = {
    "openai": read_openai_pages,
    "anthropic": read_anthropic_pages,
    "openrouter": read_openrouter_pages,
    "bedrock": _csv_only,
    "vertex": _csv_only,
}
PROVIDERS: tuple[str, ...] = tuple(JSON_READERS)
assert set(PROVIDERS) <= set(PROVIDER_NAMES)


@dataclass(frozen=True, slots=True)
class ReconcileJob:
    """``provider`` (one of ``PROVIDERS``), inclusive UTC ``start``/``end``, ``reports`` (file paths) or
    ``pull``, ``tolerance`` (fraction), ``accounts`` (deployment id -> provider-side account id)."""

    provider: str
    start: date
    end: date
    reports: tuple[str, ...] = ()
    pull: PullRequest | None = None
    tolerance: Decimal = Decimal("0.01")
    accounts: Mapping[str, str] = field(default_factory=dict)


def read_pages(provider: str, pages: Sequence[Any]) -> ProviderReport:
    """The report of already-parsed JSON pages."""
    return JSON_READERS[provider](pages)


async def _report(job: ReconcileJob) -> ProviderReport:
    if job.pull is not None:
        return read_pages(job.provider, await pull_pages(job.pull))
    return load_report(job.reports, JSON_READERS[job.provider], read_csv_report)


async def run(job: ReconcileJob, engine: AsyncEngine) -> ReconcileResult:
    """Reconcile ``job`` against the ledger in ``engine`` (``ReportError`` / ``PullError`` on bad input)."""
    if job.provider not in JSON_READERS:
        raise ReportError(f"unknown provider {job.provider!r}: one of {', '.join(PROVIDERS)}")
    if job.end < job.start:
        raise ReportError(f"--to {job.end} is before --from {job.start}")
    report = await _report(job)
    lines = await ledger_lines(engine, job.provider, (job.start, job.end), job.accounts)
    settings = MatchSettings(tolerance=job.tolerance, by_account=bool(job.accounts))
    return reconcile(MatchInputs(job.provider, job.start, job.end, lines, report), settings)


def accounts_from_config(model_list: Sequence[Any]) -> dict[str, str]:
    """``{deployment id: provider account id}`` from config entries whose ``model_info`` (or
    ``litellm_params``) names ``provider_account_id``. Entries are ``ModelEntry`` objects or dicts."""
    out: dict[str, str] = {}
    for entry in model_list:
        data = entry.model_dump() if hasattr(entry, "model_dump") else dict(entry)
        info, params = data.get("model_info") or {}, data.get("litellm_params") or {}
        account = info.get("provider_account_id") or params.get("provider_account_id")
        if account and info.get("id"):
            out[str(info["id"])] = str(account)
    return out
