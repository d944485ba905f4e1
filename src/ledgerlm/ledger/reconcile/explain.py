"""Exactly one explanation per reconciled row, decided in this order:

1. ``matched``: tokens agree (or the provider gave none) and ``|delta_usd| <= epsilon``.
2. ``unpriced_in_ledger``: the ledger holds calls in the cell it could not price.
3. ``day_boundary``: the same model and category on the NEXT day has the opposite difference
   (tokens net to zero, USD within ``epsilon``): a time-zone or bucket-edge shift; both rows get it.
4. ``token_category_mismatch``: on the same day and model, another category's token difference is the
   exact opposite (the same tokens counted under another category); both rows get it.
5. ``untracked_traffic``: the provider billed tokens (or money) the ledger never saw.
6. same tokens (or no provider tokens), different money: the rates each side implies are compared
   with the catalog's. ``provider_report_anomaly`` when the provider's rate is more than
   ``anomaly_fraction`` away from the catalog's while the ledger's is within it (show both, trust
   neither blindly); else ``price_mismatch`` (detail: ``ledger_rate``, ``provider_rate``,
   ``catalog_rate``, USD per million tokens).
7. ``provider_report_anomaly``: the ledger recorded MORE tokens than the provider reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from ledgerlm.ledger.reconcile.model import DiffRow
from ledgerlm.ledger.reconcile.rates import CatalogRate, implied_rate, unit_scale

__all__ = ["ExplainSettings", "explain"]


@dataclass(frozen=True, slots=True)
class ExplainSettings:
    """``epsilon``: USD a cell may differ by and still match (rounding in reports);
    ``anomaly_fraction``: how far (fraction of the catalog rate) a provider's implied rate may be
    before it is called a report anomaly rather than a price mismatch."""

    epsilon: Decimal = Decimal("0.000001")
    anomaly_fraction: Decimal = Decimal("0.5")


def _matched(row: DiffRow, epsilon: Decimal) -> bool:
    tokens_agree = row.provider.tokens is None or row.provider.tokens == row.ledger.token_count
    return tokens_agree and abs(row.delta_usd) <= epsilon and not row.ledger.unpriced


def _pair_days(rows: list[DiffRow], epsilon: Decimal) -> None:
    index = {(r.cell.day, r.cell.model, r.cell.category, r.cell.account): r for r in rows}
    for row in rows:
        key = (row.cell.day + timedelta(days=1), row.cell.model, row.cell.category, row.cell.account)
        other = index.get(key)
        if other is None or "explanation" in row.detail or "explanation" in other.detail:
            continue
        if row.delta_tokens + other.delta_tokens == 0 and abs(row.delta_usd + other.delta_usd) <= epsilon:
            for a, b in ((row, other), (other, row)):
                a.explanation = "day_boundary"
                a.detail.update(explanation=True, nets_with=b.cell.day.isoformat())


def _pair_categories(rows: list[DiffRow]) -> None:
    for row in rows:
        if "explanation" in row.detail or row.delta_tokens == 0:
            continue
        for other in rows:
            same_place = (other.cell.day, other.cell.model, other.cell.account) == (
                row.cell.day,
                row.cell.model,
                row.cell.account,
            )
            if (
                other is not row
                and same_place
                and "explanation" not in other.detail
                and other.delta_tokens == -row.delta_tokens
            ):
                for a, b in ((row, other), (other, row)):
                    a.explanation = "token_category_mismatch"
                    a.detail.update(explanation=True, offset_by=b.cell.category)
                break


def _rates(row: DiffRow, provider: str, catalog: CatalogRate) -> dict[str, Decimal | None]:
    units = row.ledger.token_count
    provider_units = row.provider.tokens if row.provider.tokens else units
    return {
        "ledger_rate": implied_rate(row.ledger.usd, units, row.cell.category),
        "provider_rate": implied_rate(row.provider.usd, provider_units, row.cell.category),
        "catalog_rate": catalog(provider, row.cell.model, row.cell.category),
    }


def _near(rate: Decimal | None, reference: Decimal, fraction: Decimal) -> bool:
    return rate is not None and abs(rate - reference) <= reference * fraction


def _by_money(row: DiffRow, provider: str, settings: ExplainSettings, catalog: CatalogRate) -> None:
    rates = _rates(row, provider, catalog)
    row.detail.update(rates, rate_unit=f"USD per {unit_scale(row.cell.category):,} units")
    reference = rates["catalog_rate"]
    fraction = settings.anomaly_fraction
    if (
        reference is not None
        and not _near(rates["provider_rate"], reference, fraction)
        and _near(rates["ledger_rate"], reference, fraction)
    ):
        row.explanation = "provider_report_anomaly"
    else:
        row.explanation = "price_mismatch"


def _single(row: DiffRow, provider: str, settings: ExplainSettings, catalog: CatalogRate) -> None:
    ledger, billed = row.ledger, row.provider
    if ledger.unpriced:
        row.explanation = "unpriced_in_ledger"
        row.detail["unpriced_calls"] = ledger.unpriced
    elif ledger.token_count == 0 and ledger.usd == 0:
        row.explanation = "untracked_traffic"
    elif billed.tokens is None or billed.tokens == ledger.token_count:
        _by_money(row, provider, settings, catalog)
    elif billed.tokens > ledger.token_count:
        row.explanation = "untracked_traffic"
        row.detail["untracked_tokens"] = billed.tokens - ledger.token_count
    else:
        row.explanation = "provider_report_anomaly"
        row.detail["tokens_missing_from_report"] = ledger.token_count - billed.tokens


def explain(rows: Iterable[DiffRow], provider: str, settings: ExplainSettings, catalog: CatalogRate) -> None:
    """Set ``explanation`` (and ``detail``) on every row, in the order of the module doc."""
    pending: list[DiffRow] = []
    for row in rows:
        if _matched(row, settings.epsilon):
            row.explanation = "matched"
        elif row.ledger.unpriced:
            _single(row, provider, settings, catalog)
        else:
            pending.append(row)
    _pair_days(pending, settings.epsilon)
    _pair_categories(pending)
    for row in pending:
        if row.detail.pop("explanation", None) is None:
            _single(row, provider, settings, catalog)
