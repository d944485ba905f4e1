"""FOCUS 1.2 columns of ledgerlm's export: names, types, and which are Mandatory in the specification.

Source: the FinOps Open Cost and Usage Specification 1.2 (https://focus.finops.org, repository
``FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec``, ``specification/columns/*.md``). The 21 columns the
specification marks Mandatory come first; then the Conditional / Recommended columns ledgerlm can fill;
then ``x_`` columns (the specification's prefix for custom columns) for what FOCUS has no column for
in AI usage: model, token type, cache-write TTL, reasoning, service tier, context tier, virtual key
(SHA-256, never the key), team, user, end user, request tags, price id, request id, unpriced flag.

Types (``kind``): ``decimal`` (exact, CSV plain decimal text, Parquet ``decimal128``), ``datetime``
(UTC, ``YYYY-MM-DDTHH:mm:ssZ``, Parquet ``timestamp[s, UTC]``), ``string``, ``json`` (a JSON object or
list as text). Allowed values used here:

* ``ChargeCategory``: ``Usage`` (a call's tokens) and ``Adjustment`` (a re-price / back-fill);
  (the specification's other values: Purchase, Tax, Credit);
* ``ChargeClass``: ``Correction`` for an adjustment correcting a closed (already invoiced) period,
  else null;
* ``ChargeFrequency``: ``Usage-Based``; ``PricingCategory``: ``Standard``;
* ``ServiceCategory``: ``AI and Machine Learning``; ``ServiceSubcategory``: ``Generative AI``;
* ``PricingUnit`` / ``ConsumedUnit``: ``Tokens``, ``Requests`` or ``Searches``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["COLUMNS", "COLUMN_NAMES", "FOCUS_VERSION", "MANDATORY", "FocusColumn"]

FOCUS_VERSION = "1.2"

Kind = Literal["decimal", "datetime", "string", "json"]


@dataclass(frozen=True, slots=True)
class FocusColumn:
    """One column: ``name`` (column id), ``kind`` (see the module docstring), ``nullable``,
    ``mandatory`` (Mandatory in FOCUS 1.2), ``scale`` (decimal places of a Parquet decimal)."""

    name: str
    kind: Kind = "string"
    nullable: bool = True
    mandatory: bool = False
    scale: int = 10


def _m(name: str, kind: Kind = "string", *, nullable: bool = False) -> FocusColumn:
    return FocusColumn(name, kind, nullable, mandatory=True)


COLUMNS: tuple[FocusColumn, ...] = (
    _m("BilledCost", "decimal"),
    _m("BillingAccountId"),
    _m("BillingAccountName", nullable=True),
    _m("BillingCurrency"),
    _m("BillingPeriodEnd", "datetime"),
    _m("BillingPeriodStart", "datetime"),
    _m("ChargeCategory"),
    _m("ChargeClass", nullable=True),
    _m("ChargeDescription", nullable=True),
    _m("ChargePeriodEnd", "datetime"),
    _m("ChargePeriodStart", "datetime"),
    _m("ContractedCost", "decimal"),
    _m("EffectiveCost", "decimal"),
    _m("InvoiceIssuerName"),
    _m("ListCost", "decimal"),
    _m("PricingQuantity", "decimal", nullable=True),
    _m("PricingUnit", nullable=True),
    _m("ProviderName"),
    _m("PublisherName"),
    _m("ServiceCategory"),
    _m("ServiceName"),
    FocusColumn("ChargeFrequency"),
    FocusColumn("ConsumedQuantity", "decimal"),
    FocusColumn("ConsumedUnit"),
    FocusColumn("ContractedUnitPrice", "decimal", scale=18),
    FocusColumn("ListUnitPrice", "decimal", scale=18),
    FocusColumn("PricingCategory"),
    FocusColumn("ResourceId"),
    FocusColumn("ResourceName"),
    FocusColumn("ResourceType"),
    FocusColumn("ServiceSubcategory"),
    FocusColumn("SkuId"),
    FocusColumn("SkuPriceId"),
    FocusColumn("SubAccountId"),
    FocusColumn("SubAccountName"),
    FocusColumn("Tags", "json"),
    FocusColumn("x_Model"),
    FocusColumn("x_ModelGroup"),
    FocusColumn("x_TokenType"),
    FocusColumn("x_CacheWriteTTL"),
    FocusColumn("x_Reasoning"),
    FocusColumn("x_ServiceTier"),
    FocusColumn("x_ContextTier"),
    FocusColumn("x_VirtualKey"),
    FocusColumn("x_Team"),
    FocusColumn("x_User"),
    FocusColumn("x_EndUser"),
    FocusColumn("x_RequestTags", "json"),
    FocusColumn("x_PriceId"),
    FocusColumn("x_RequestId"),
    FocusColumn("x_CallCount", "decimal", scale=0),
    FocusColumn("x_Unpriced"),
    FocusColumn("x_CorrectsPeriod"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in COLUMNS)
MANDATORY: tuple[str, ...] = tuple(column.name for column in COLUMNS if column.mandatory)
