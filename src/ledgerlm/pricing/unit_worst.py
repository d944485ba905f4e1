"""Worst-case price of a per-unit call before it is sent, for budget admission.

The budget layer reserves ``price.max_cost(input_tokens, output_tokens)`` (``ledgerlm.budgets.estimate``).
A per-unit call has no token price (``dall-e-3``, ``omni-moderation-latest``, ``cohere/rerank-v3.5``), so
without this it was refused as "unpriced" under every hard budget although its cost is known up front:

* images (``aimage_generation``, ``aimage_edit``, ``aimage_variation``): ``n`` (default 1) x the
  per-image rate at the body's ``size`` and ``quality`` (``unit_prices.image_rate``); an ``n`` that
  is not a positive integer is a 400;
* moderations (``amoderation``): free, $0;
* speech (``aspeech``): the characters of ``input`` x the per-character rate (known before the call;
  it used to reserve $0, so a 4,000-character call was served on a $0.001 budget and spent $0.06);
* rerank (``arerank``): search units x the per-search rate. Cohere bills one search unit per query of
  up to 100 documents, a document longer than its chunk counting as several (Cohere pricing page,
  "Rerank"); the bound takes one chunk per started 100 bytes of each document (a token is at least one
  byte), so the reservation covers the call.

Every field is read from the body as sent: ``extra_body`` merged over the top-level fields, as the
OpenAI provider sends it (``{"n": 1, "extra_body": {"n": 100}}`` generates 100 images).

``None`` when the call type is not per-unit or the model has no unit rate (the token price, or the
"unpriced" rule of ``budget_settings.unpriced_models``, then applies).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledgerlm.errors import BadRequestError
from ledgerlm.pricing.unit_prices import image_rate, unit_rates

__all__ = ["UnitWorstCase", "unit_worst_case"]

_DOCS_PER_SEARCH = 100
_BYTES_PER_CHUNK = 100


@dataclass(frozen=True, slots=True)
class UnitWorstCase:
    """A price whose ``max_cost`` is the call's worst-case USD cost whatever the token counts."""

    amount: Decimal
    max_output_tokens: int | None = None

    def max_cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        """The call's worst-case cost (USD); the token bounds do not change it."""
        return self.amount


def unit_worst_case(
    call_type: str, provider: str, model: str, body: Mapping[str, Any]
) -> UnitWorstCase | None:
    """The worst-case price of a per-unit call (see the module docstring), or ``None``."""
    extra = body.get("extra_body")
    if isinstance(extra, Mapping):
        body = {**body, **extra}
    if call_type in ("aimage_generation", "aimage_edit", "aimage_variation"):
        rate, _ = image_rate(model, body.get("size"), body.get("quality"))
        return None if rate is None else UnitWorstCase(rate * _image_count(body))
    if call_type == "amoderation":
        free = unit_rates(provider, model).get("request")
        return None if free is None else UnitWorstCase(free)
    if call_type == "aspeech":
        per_character = unit_rates(provider, model).get("character")
        text = body.get("input")
        if per_character is None or not isinstance(text, str):
            return None
        return UnitWorstCase(per_character * len(text))
    if call_type == "arerank":
        per_search = unit_rates(provider, model).get("search")
        return None if per_search is None else UnitWorstCase(per_search * _search_units(body))
    return None


def _image_count(body: Mapping[str, Any]) -> int:
    n = body.get("n", 1)
    if n is None:
        return 1
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise BadRequestError("'n' must be a positive integer (the number of images)", param="n")
    return n


def _search_units(body: Mapping[str, Any]) -> int:
    documents = body.get("documents")
    if not isinstance(documents, list):
        return 1
    chunks = sum(max(1, math.ceil(_doc_bytes(doc) / _BYTES_PER_CHUNK)) for doc in documents)
    return max(1, math.ceil(chunks / _DOCS_PER_SEARCH))


def _doc_bytes(document: Any) -> int:
    if isinstance(document, str):
        return len(document.encode("utf-8", "surrogatepass"))
    if isinstance(document, Mapping):
        return sum(_doc_bytes(v) for v in document.values())
    return len(str(document).encode("utf-8", "surrogatepass"))
